"""A venue backend for the tests that misbehaves on purpose, one answer kind at a time.

It speaks the contract for one client while its ``mode`` is "session" or "ended", and
in "faults" mode cycles through what a real network and a buggy backend produce:
HTTP errors, HTML, dropped connections, stalls longer than the kiosk's timeout,
answers for another client, garbage, and one lone ``{"data":0}``.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

STALL_S = 3.0  # longer than the e2e config's server.timeout_s (2 s)


def _times(elapsed_s: float) -> dict[str, str]:
    end = datetime.now().replace(microsecond=0)
    start = end - timedelta(seconds=int(elapsed_s))
    fmt = "%Y-%m-%d %H:%M:%S"
    return {"startTime": start.strftime(fmt), "endTime": end.strftime(fmt)}


class FaultServer:
    """``mode``: "session" (status 2), "faults" (the cycle below) or "ended" (status 3)."""

    STATUS_FAULTS = ("500", "html", "drop", "foreign", "not_found", "session", "garbage",
                     "stall", "session", "bad_status", "truncated", "session")
    REPORT_FAULTS = ("500", "html", "drop", "ok", "stall", "ok")

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.mode = "session"
        self.started = time.time()
        self.requests: list[tuple[str, str]] = []  # (path, what was answered)
        self._status_faults = itertools.cycle(self.STATUS_FAULTS)
        self._report_faults = itertools.cycle(self.REPORT_FAULTS)
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's API)
                server.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        with self._lock:
            kind = self._kind(url.path)
            self.requests.append((url.path, kind))
        if kind == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if kind == "stall":
            time.sleep(STALL_S)
            kind = "session" if url.path.endswith("status_client") else "ok"
        body = self._body(kind, parse_qs(url.query))
        code = 500 if kind == "500" else 404 if kind == "404" else 200
        data = body.encode("utf-8")
        handler.send_response(code)
        handler.send_header("Content-Type", "text/html" if kind == "html" else "application/json")
        length = len(data) + (100 if kind == "truncated" else 0)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.write(data)

    def _kind(self, path: str) -> str:
        if path == "/rest/status_client":
            if self.mode == "faults":
                return next(self._status_faults)
            return "session" if self.mode == "session" else "ended"
        if path == "/rest/clientStatus":
            return next(self._report_faults) if self.mode == "faults" else "ok"
        if path == "/rest/serviceNum":
            return "500" if self.mode == "faults" else "service"
        return "404"

    def _body(self, kind: str, query: dict[str, list[str]]) -> str:
        elapsed = time.time() - self.started
        status = {"data": 1, "clientId": self.client_id, "unionId": "1", "duration": 1,
                  "cost": 1.32, "charging": 1.32, **_times(elapsed)}
        bodies = {
            "session": json.dumps({**status, "onlineStatus": 2}),
            "ended": json.dumps({**status, "onlineStatus": 3}),
            "foreign": json.dumps({**status, "clientId": "999999", "onlineStatus": 3}),
            "not_found": "{“data”:0}",
            "garbage": '{"data":1,"onlineStatus":',
            "bad_status": json.dumps({**status, "onlineStatus": "abc"}),
            "truncated": json.dumps({**status, "onlineStatus": 1}),
            "html": "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "500": "Internal Server Error",
            "ok": '{"data":1}',
            "service": '{"data":1,"serviceNum":"4000000000"}',
            "404": "",
        }
        return bodies[kind]
