"""HTTP layer of the backend simulator: the venue contract, media files, phone pages.

Standard library only, so the kiosk can embed it (``server.base_url: embedded``)
and QA can run it on a machine with nothing else installed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socketserver
import threading
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiosk.simulator.venue import Venue, VenueError

log = logging.getLogger("kiosk.simulator")

PAGE = Path(__file__).with_name("control.html")
MEDIA = {
    "/files/background.png": ("background.png", "image/png"),
    "/files/video.mp4": ("video.mp4", "video/mp4"),
}
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
MAX_BODY = 64 * 1024


class HTTPError(Exception):
    """Answered as ``{"ok": false, "error": message}`` with a 4xx code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 drops the connections of a venue booting at
    # once (their SYNs are retried only after a second): queue as a real server would
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], venue: Venue, files_dir: Path | None) -> None:
        self.venue = venue
        self.files_dir = files_dir
        self.page = PAGE.read_bytes()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Skip http.server's reverse DNS lookup of the host: it can take seconds."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is no reason to print a traceback."""
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "KioskSimulator/1"
    timeout = 10

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.route = url.path
        self.params = _first_values(url.query)
        if method == "POST":
            self.params.update(self._form())
        self.client_id = self.params.get("clientId", "").strip() or None
        self.server.venue.record_request(self.route, self.client_id)
        try:
            handler = ROUTES.get(self.route, {}).get(method)
            if handler is None:
                allowed = ROUTES.get(self.route)
                if allowed:
                    raise HTTPError(405, f"{self.route} 只接受 {', '.join(allowed)}")
                raise HTTPError(404, f"未知路径 {self.route}")
            handler(self)
        except HTTPError as error:
            self._send_json({"ok": False, "error": error.message}, error.code)
        except VenueError as error:
            self._send_json({"ok": False, "error": str(error)}, 409)
        except ConnectionError:
            log.debug("client hung up on %s", self.route)
        except Exception:
            log.exception("simulator failed on %s", self.path)
            self._send_json({"ok": False, "error": "模拟后台内部错误"}, 500)

    def _form(self) -> dict[str, str]:
        """Drain the body (closing on unread data resets the connection); keep form fields."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return {}
        body = self.rfile.read(min(max(length, 0), MAX_BODY))
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return {}
        return _first_values(body.decode("utf-8", "replace"))

    def _need_client(self) -> str:
        if self.client_id is None:
            raise HTTPError(400, "缺少 clientId")
        return self.client_id

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, body: dict[str, Any], code: int = 200) -> None:
        self._send(code, JSON_TYPE, json.dumps(body, ensure_ascii=False).encode())

    def _rest_service_num(self) -> None:
        self._send_json(self.server.venue.service_number())

    def _rest_client_status(self) -> None:
        if self.client_id is None:
            self._send_json({"data": 0})
            return
        self._send_json({"data": self.server.venue.report(self.client_id)})

    def _rest_status_client(self) -> None:
        if self.client_id is None:
            self._send_json({"data": 0})
            return
        self._send_json(self.server.venue.status(self.client_id))

    def _rest_offline(self) -> None:
        ended = self.client_id is not None and self.server.venue.offline(self.client_id)
        self._send_json({"data": int(ended)})

    def _media(self) -> None:
        name, content_type = MEDIA[self.route]
        files_dir = self.server.files_dir
        path = files_dir / name if files_dir is not None else None
        if path is None or not path.is_file():
            raise HTTPError(404, f"{name} 不存在")
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            last_modified = formatdate(stat.st_mtime, usegmt=True)
            if self._not_modified_since(int(stat.st_mtime)):
                self.send_response(304)
                self.send_header("Last-Modified", last_modified)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(stat.st_size))
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            shutil.copyfileobj(file, self.wfile)

    def _not_modified_since(self, mtime: int) -> bool:
        header = self.headers.get("If-Modified-Since")
        if not header:
            return False
        try:
            since = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return mtime <= since.timestamp()

    def _control_page(self) -> None:
        self._send(200, HTML_TYPE, self.server.page)

    def _phone_page(self) -> None:
        self._need_client()
        self._send(200, HTML_TYPE, self.server.page)

    def _control_state(self) -> None:
        self._send_json(self.server.venue.snapshot())

    def _control_action(self, action: Callable[[Venue, str], None]) -> None:
        client_id = self._need_client()
        action(self.server.venue, client_id)
        self._send_json({"ok": True, "client": self.server.venue.client_view(client_id)})

    def _control_start(self) -> None:
        self._control_action(Venue.start)

    def _control_end(self) -> None:
        self._control_action(Venue.end)

    def _control_pay(self) -> None:
        self._control_action(Venue.pay)

    def _control_service(self) -> None:
        if "num" not in self.params:
            raise HTTPError(400, "缺少 num")
        self.server.venue.set_service_num(self.params["num"])
        self._send_json({"ok": True, **self.server.venue.service_number()})


ROUTES: dict[str, dict[str, Callable[[_Handler], None]]] = {
    "/rest/serviceNum": {"GET": _Handler._rest_service_num},
    "/rest/clientStatus": {"GET": _Handler._rest_client_status},
    "/rest/status_client": {"GET": _Handler._rest_status_client},
    "/rest/offline": {"GET": _Handler._rest_offline},
    **{path: {"GET": _Handler._media} for path in MEDIA},
    "/": {"GET": _Handler._control_page},
    "/phone": {"GET": _Handler._phone_page},
    "/control/state": {"GET": _Handler._control_state},
    "/control/start": {"POST": _Handler._control_start},
    "/control/end": {"POST": _Handler._control_end},
    "/control/pay": {"POST": _Handler._control_pay},
    "/control/service": {"POST": _Handler._control_service},
}


def _control_ledger(handler: _Handler) -> None:
    """Read-only: every session and request arrival, for load and soak runs."""
    handler._send_json(handler.server.venue.ledger())


ROUTES["/control/ledger"] = {"GET": _control_ledger}


def _first_values(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


class Simulator:
    """The venue backend on a local port, with a control page acting as the customer's phone."""

    TICK_S = 1.0  # how often silent sessions are ended when no request comes in

    def __init__(
        self,
        *,
        rate_per_min: float = 1.32,
        report_timeout_s: float = 60,
        files_dir: Path | None = None,
        service_num: str = "13738196887",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.venue = Venue(
            rate_per_min=rate_per_min,
            report_timeout_s=report_timeout_s,
            service_num=service_num,
            clock=clock,
        )
        self.files_dir = Path(files_dir) if files_dir is not None else None
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on daemon threads, bound to ``host`` only; return the base URL."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._server = _Server((host, port), self.venue, self.files_dir)
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="kiosk-simulator-http",
                daemon=True,
            ),
            threading.Thread(target=self._tick, name="kiosk-simulator-ticker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("simulator serving on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and free the port; harmless when not started."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        for thread in self._threads:
            thread.join()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _tick(self) -> None:
        """End silent sessions even when nobody asks, so the control page is right."""
        while not self._stopping.wait(self.TICK_S):
            self.venue.expire()
