"""A venue backend for the bench that records when each status answer left it.

The status is whatever the bench sets; the time each ``status_client`` answer was
written lets the bench time "answer arrives → page changes" from outside the kiosk.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import urlparse


class Backend:
    """``status``: the ``onlineStatus`` answered; ``answers``: (time sent, status) of each."""

    def __init__(self, client_id: str, status: int = 1) -> None:
        self.client_id = client_id
        self.status = status
        self.answers: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's API)
                backend.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Backend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def set_status(self, status: int) -> float:
        """Change the status; returns when (epoch seconds) it changed."""
        with self._lock:
            self.status = status
            return time.time()

    def first_answer(self, status: int, since: float) -> float | None:
        """When the first answer with ``status`` after ``since`` was sent."""
        with self._lock:
            return next((t for t, s in self.answers if s == status and t >= since), None)

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = urlparse(handler.path).path
        status = None
        if path == "/rest/status_client":
            with self._lock:
                status = self.status
            end = datetime.now().replace(microsecond=0)
            fmt = "%Y-%m-%d %H:%M:%S"
            body = {"data": 1, "onlineStatus": status, "clientId": self.client_id,
                    "duration": 1, "charging": 1.32, "cost": 1.32,
                    "startTime": (end - timedelta(seconds=60)).strftime(fmt),
                    "endTime": end.strftime(fmt)}
        elif path == "/rest/serviceNum":
            body = {"data": 1, "serviceNum": "13738196887"}
        elif path in ("/rest/clientStatus", "/rest/offline"):
            body = {"data": 1}
        else:
            handler.send_error(404)
            return
        data = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()
        if status is not None:
            with self._lock:
                self.answers.append((time.time(), status))
