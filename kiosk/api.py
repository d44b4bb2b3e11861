"""The HTTP edge to the venue backend: one session, a timeout on every call.

Each call returns a typed answer from ``kiosk.contract``; every failure of any
kind becomes a ``NetworkFault`` value, never an exception, so a worker thread can
post whatever comes back straight to the flow core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests
import urllib3

from kiosk import contract

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024  # the contract's answers are a few hundred bytes
CONNECT_TIMEOUT_S = 2.0  # a host that is down must not hold a poll for the full timeout
HEADERS = {"Accept": "application/json", "User-Agent": "kiosk-client"}

T = TypeVar("T")


def timeouts(timeout_s: float) -> tuple[float, float]:
    """requests' (connect, read) timeouts: a host that is down is given up on quickly."""
    return min(CONNECT_TIMEOUT_S, timeout_s), timeout_s


class FaultLog:
    """Logs a fault when its kind changes and at most once a minute otherwise."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self._last: dict[str, tuple[str, float]] = {}

    def fault(self, endpoint: str, fault: contract.NetworkFault) -> None:
        now = time.monotonic()
        previous = self._last.get(endpoint)
        if previous is None or previous[0] != fault.kind or now - previous[1] >= self.every_s:
            self._last[endpoint] = (fault.kind, now)
            log.warning("%s: network fault %s %s", endpoint, fault.kind, fault.detail)

    def ok(self, endpoint: str) -> None:
        if self._last.pop(endpoint, None) is not None:
            log.info("%s: answering again", endpoint)


class Api:
    """The six calls of the specification for one client."""

    def __init__(self, base_url: str, client_id: str, *, timeout_s: float,
                 status_value: int = 1, files_base_url: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.files_base_url = (files_base_url or base_url).rstrip("/")
        self.client_id = client_id
        self.status_value = status_value
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers.update(HEADERS)
        self.faults = FaultLog()

    def status(self) -> contract.StatusAnswer:
        body = self._get("/rest/status_client", {"clientId": self.client_id})
        return self._read("status_client", body, contract.parse_status, self.client_id)

    def report(self) -> contract.ReportAnswer:
        params = {"clientId": self.client_id, "clientStatus": self.status_value}
        body = self._get("/rest/clientStatus", params)
        return self._read("clientStatus", body, contract.parse_report)

    def offline(self) -> contract.OfflineAnswer:
        body = self._get("/rest/offline", {"clientId": self.client_id})
        return self._read("offline", body, contract.parse_offline)

    def service_number(self) -> contract.ServiceAnswer:
        body = self._get("/rest/serviceNum", {})
        return self._read("serviceNum", body, contract.parse_service_number)

    def _read(self, endpoint: str, body: bytes | contract.NetworkFault,
              parse: Callable[..., T], *args: str) -> T | contract.NetworkFault:
        answer = body if isinstance(body, contract.NetworkFault) else parse(body, *args)
        if isinstance(answer, contract.NetworkFault):
            self.faults.fault(endpoint, answer)
        else:
            self.faults.ok(endpoint)
            if isinstance(answer, contract.ForeignAnswer):
                log.info("%s: ignored an answer for client %s", endpoint, answer.client_id)
        return answer

    def _get(self, path: str, params: dict) -> bytes | contract.NetworkFault:
        """GET with a deadline on the whole answer and a cap on its size."""
        deadline = time.monotonic() + self.timeout_s
        try:
            with self.session.get(self.base_url + path, params=params,
                                  timeout=timeouts(self.timeout_s),
                                  stream=True) as response:
                if response.status_code != 200:
                    return contract.NetworkFault("http", f"HTTP {response.status_code}")
                chunks, size = [], 0
                # read1 returns what has arrived, so a server trickling bytes cannot hold
                # the call past its deadline (iter_content waits for a full chunk).
                while chunk := response.raw.read1(8192):
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        return contract.NetworkFault("too_large", f"over {MAX_ANSWER_BYTES} bytes")
                    if time.monotonic() > deadline:
                        return contract.NetworkFault("timeout", "answer too slow")
                    chunks.append(chunk)
                return b"".join(chunks)
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            return contract.NetworkFault("timeout", type(exc).__name__)
        except urllib3.exceptions.HTTPError as exc:  # raised by raw.read1 itself
            return contract.NetworkFault("connection", type(exc).__name__)
        except requests.ConnectionError as exc:
            return contract.NetworkFault("connection", type(exc).__name__)
        except (requests.RequestException, ValueError, OSError) as exc:
            return contract.NetworkFault("request", f"{type(exc).__name__}: {exc}"[:200])

    def close(self) -> None:
        self.session.close()
