"""HTTP layer of the backend simulator: the venue contract, media files, phone pages.

Standard library only, so the kiosk can embed it (``server.base_url: embedded``)
and QA can run it on a machine with nothing else installed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiosk.contract import METHODS
from kiosk.simulator import faults
from kiosk.simulator.faults import CATALOGUE, ENDPOINT_OF_PATH, Fault, FaultError, Switchboard
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

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.venue = simulator.venue
        self.files_dir = simulator.files_dir
        self.faults = simulator.faults
        self.page = PAGE.read_bytes()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Skip http.server's reverse DNS lookup of the host: it can take seconds."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> tuple[socket.socket, Any]:
        """With TLS, the handshake is left to the connection's own thread (_Handler.setup):
        a client that never completes one must not hold up the accept loop."""
        sock, address = super().get_request()
        if self.simulator.tls is not None:
            sock = self.simulator.tls.wrap_socket(sock, server_side=True,
                                                  do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is no reason to print a traceback."""
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "KioskSimulator/1"
    timeout = 10
    fault: Fault | None = None  # what this answer plays instead of the normal one
    endpoint: str | None = None
    wake = threading.Event()  # set when the faults are cleared: stalls end early

    def setup(self) -> None:
        super().setup()  # sets the connection's timeout, which then bounds the handshake
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

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
        self.client_id = str(self.params.get("clientId", "")).strip() or None
        self.server.venue.record_request(self.route, self.client_id)
        try:
            accepted = method in ROUTES.get(self.route, {})
            self.endpoint = ENDPOINT_OF_PATH.get(self.route) if accepted else None
            if self.endpoint is not None:
                self.fault, self.wake = self.server.faults.next(self.endpoint)
                if self.fault is not None and self._play_before():
                    return
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
        except FaultError as error:
            self._send_json({"ok": False, "error": str(error)}, 400)
        except ConnectionError:
            log.debug("client hung up on %s", self.route)
        except Exception:
            log.exception("simulator failed on %s", self.path)
            self._send_json({"ok": False, "error": "模拟后台内部错误"}, 500)

    def _form(self) -> dict[str, Any]:
        """Drain the body (closing on unread data resets the connection); keep form fields
        or the members of a JSON object."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return {}
        body = self.rfile.read(min(max(length, 0), MAX_BODY))
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                value = json.loads(body)
            except ValueError:
                raise HTTPError(400, "请求体不是 JSON") from None
            if not isinstance(value, dict):
                raise HTTPError(400, "请求体应是 JSON 对象")
            return value
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return {}
        return _first_values(body.decode("utf-8", "replace"))

    def _need_client(self) -> str:
        if self.client_id is None:
            raise HTTPError(400, "缺少 clientId")
        return self.client_id

    def _send(self, code: int, content_type: str, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        """Send an answer; a fault that changes the normal answer does it here."""
        fault = self.fault
        if fault is not None and code == 200:
            if fault.name == "bad_utf8":
                body = faults.bad_utf8(body)
            elif fault.name == "wrong_types":
                body = faults.wrong_types(body, fault["variant"])
            elif fault.name == "foreign":
                body = faults.foreign(body, self.client_id)
        announced = len(body) + (100 if fault is not None and fault.name == "truncated" else 0)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(announced))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if fault is not None and fault.name == "trickle" and body:
            pause = fault["seconds"] / len(body)
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                if self.wake.wait(pause):
                    pause = 0.0
        else:
            self.wfile.write(body)
        if announced != len(body):
            self.close_connection = True

    def _play_before(self) -> bool:
        """Play a fault that needs no normal answer; True when the answer is done."""
        fault, endpoint = self.fault, self.endpoint
        assert fault is not None and endpoint is not None
        if fault.name == "stall":
            self.wake.wait(fault["seconds"])
        if not CATALOGUE[fault.name].without_backend:
            return False
        self.close_connection = True
        if fault.name == "http":
            code = fault["code"]
            phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
            self._send(code, "text/plain; charset=utf-8", phrase.encode())
        elif fault.name == "html":
            self._send(fault["code"], HTML_TYPE, faults.HTML_PAGE)
        elif fault.name == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault.name == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif fault.name == "huge":
            self._send_huge(fault["bytes"])
        elif fault.name == "garbage":
            content_type = JSON_TYPE if endpoint in faults.REST else MEDIA[self.route][1]
            self._send(200, content_type, faults.garbage(endpoint))
        elif fault.name == "data0":
            self._send(200, JSON_TYPE, faults.DATA0)
        return True

    def _send_huge(self, size: int) -> None:
        """Stream ``size`` bytes without holding them: the reader is expected to hang up."""
        self.send_response(200)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(faults.HUGE_START)
        left, chunk = size - len(faults.HUGE_START), b"x" * 65536
        while left > 0:
            self.wfile.write(chunk[:left])
            left -= len(chunk)

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
            if self.fault is not None:  # a fault that changes the answer needs it whole
                self._send(200, content_type, file.read(), {"Last-Modified": last_modified})
                return
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
        self._send_json({**self.server.venue.snapshot(), "faults": self.server.faults.snapshot()})

    def _control_faults(self) -> None:
        self._send_json({**faults.catalogue(), **self.server.faults.snapshot()})

    def _control_fault(self) -> None:
        """Set, cycle or clear a fault; ``refuse`` takes the whole server down for a while."""
        if self.params.get("fault") == "refuse":
            seconds = faults.seconds(self.params)
            if seconds is None:
                raise FaultError("refuse needs seconds: nothing could ask to listen again")
            self._send_json({"ok": True, "refusing_s": seconds})
            self.wfile.flush()
            threading.Thread(target=self.server.simulator.refuse, args=(seconds,),
                             daemon=True).start()
            return
        self.server.faults.configure(self.params)
        self._send_json({"ok": True, **self.server.faults.snapshot()})

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
    # The specification does not say GET or POST: the calls accept both (server.method),
    # their inputs in the query or form-encoded in the body.
    **{path: dict.fromkeys(METHODS, handler) for path, handler in (
        ("/rest/serviceNum", _Handler._rest_service_num),
        ("/rest/clientStatus", _Handler._rest_client_status),
        ("/rest/status_client", _Handler._rest_status_client),
        ("/rest/offline", _Handler._rest_offline))},
    **{path: {"GET": _Handler._media} for path in MEDIA},
    "/": {"GET": _Handler._control_page},
    "/phone": {"GET": _Handler._phone_page},
    "/control/state": {"GET": _Handler._control_state},
    "/control/start": {"POST": _Handler._control_start},
    "/control/end": {"POST": _Handler._control_end},
    "/control/pay": {"POST": _Handler._control_pay},
    "/control/service": {"POST": _Handler._control_service},
    "/control/faults": {"GET": _Handler._control_faults},
    "/control/fault": {"POST": _Handler._control_fault},
}


def _control_ledger(handler: _Handler) -> None:
    """Read-only: every session and request arrival, for load and soak runs."""
    handler._send_json(handler.server.venue.ledger())


ROUTES["/control/ledger"] = {"GET": _control_ledger}


def _first_values(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


class Simulator:
    """The venue backend on a local port, with a control page acting as the customer's phone,
    and fault switches (``faults``) that make it misbehave on purpose."""

    TICK_S = 1.0  # how often silent sessions are ended when no request comes in

    def __init__(
        self,
        *,
        rate_per_min: float = 1.32,
        report_timeout_s: float = 60,
        files_dir: Path | None = None,
        service_num: str = "13738196887",
        clock: Callable[[], float] = time.time,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: a server-side context with the certificate to serve HTTPS with, as a
        venue backend serves its files."""
        self.venue = Venue(
            rate_per_min=rate_per_min,
            report_timeout_s=report_timeout_s,
            service_num=service_num,
            clock=clock,
        )
        self.files_dir = Path(files_dir) if files_dir is not None else None
        self.tls = tls
        self.faults = Switchboard()
        self._lock = threading.Lock()
        self._address: tuple[str, int] | None = None
        self._server: _Server | None = None  # None while refusing connections
        self._http: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._back: threading.Timer | None = None
        self._stopping = threading.Event()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on daemon threads, bound to ``host`` only; return the base URL."""
        with self._lock:
            if self._address is not None:
                raise RuntimeError("simulator already started")
            self._stopping.clear()
            self._listen((host, port))
        self._ticker = threading.Thread(target=self._tick, name="kiosk-simulator-ticker",
                                        daemon=True)
        self._ticker.start()
        log.info("simulator serving on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and free the port; harmless when not started."""
        with self._lock:
            if self._address is None:
                return
            self._address = None
            self._stopping.set()
            self._cancel_back()
            server, http = self._server, self._http
            self._server = self._http = None
        self.faults.clear()  # lets stalled answers go
        if server is not None:
            server.shutdown()
            server.server_close()
        for thread in (http, self._ticker):
            if thread is not None:
                thread.join()

    def refuse(self, seconds: float | None = None) -> None:
        """Stop listening (connections are refused), and listen again on the same port
        after ``seconds`` (None: when ``listen_again`` is called): the backend down and back."""
        with self._lock:
            server, http = self._server, self._http
            if self._address is None or server is None:
                return
            server.shutdown()
            server.server_close()
            if http is not None:
                http.join()
            self._server = self._http = None
            if seconds is not None:
                self._back = threading.Timer(seconds, self.listen_again)
                self._back.daemon = True
                self._back.start()
        log.info("simulator refusing connections for %s s", seconds)

    def listen_again(self) -> None:
        """Serve again on the same address after ``refuse``."""
        with self._lock:
            self._cancel_back()
            if self._address is None or self._server is not None:
                return
            self._listen(self._address)
        log.info("simulator serving again on %s", self.base_url)

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._address is None:
            raise RuntimeError("simulator not started")
        host, port = self._address
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def _listen(self, address: tuple[str, int]) -> None:
        self._server = _Server(address, self)
        self._address = self._server.server_address[:2]
        self._http = threading.Thread(target=self._server.serve_forever,
                                      kwargs={"poll_interval": 0.05},
                                      name="kiosk-simulator-http", daemon=True)
        self._http.start()

    def _cancel_back(self) -> None:
        if self._back is not None:
            self._back.cancel()
            self._back = None

    def _tick(self) -> None:
        """End silent sessions even when nobody asks, so the control page is right."""
        while not self._stopping.wait(self.TICK_S):
            self.venue.expire()
