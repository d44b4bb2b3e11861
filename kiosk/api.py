"""The HTTP edge to the venue backend: one session, a timeout on every call.

Each call returns a typed answer from ``kiosk.contract``; every failure of any
kind becomes a ``NetworkFault`` value, never an exception, so a worker thread can
post whatever comes back straight to the flow core.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from kiosk import contract
from kiosk.logs import Limiter, held_note
from kiosk.tls import Tls

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024  # the contract's answers are a few hundred bytes
CONNECT_TIMEOUT_S = 2.0  # a host that is down must not hold a poll for the full timeout
MIN_CONNECT_TIMEOUT_S = 1.0  # below this a slow but working link would never connect
HEADERS = {"Accept": "application/json", "User-Agent": "kiosk-client"}

T = TypeVar("T")


def timeouts(timeout_s: float, period_s: float | None = None) -> tuple[float, float]:
    """requests' (connect, read) timeouts: a host that is down is given up on quickly, and
    with the shortest poll period given, within that period (but not under a second), so
    attempts at a blackholed server keep the polls' pace and its return is seen in a period."""
    connect = min(CONNECT_TIMEOUT_S, timeout_s)
    if period_s is not None:
        connect = min(connect, max(MIN_CONNECT_TIMEOUT_S, period_s))
    return connect, timeout_s


class _Lookup:
    """One ``getaddrinfo`` on a thread of its own, so its caller can stop waiting."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.started = time.monotonic()
        self.error: str | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True, name=f"lookup-{host}:{port}").start()

    def _run(self) -> None:
        try:
            socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.done.set()


# Per host: a resolver that does not answer costs at most this many waiting threads (with a
# poll a second and a resolver giving up after 10-15 s, a fresh lookup is always under way).
MAX_HUNG_LOOKUPS = 16
_lookups: dict[tuple[str, int], list[_Lookup]] = {}
_lookups_lock = threading.Lock()


def lookup_fault(host: str, port: int, within_s: float) -> contract.NetworkFault | None:
    """A "dns" fault if ``host`` does not resolve within ``within_s``, else None.

    getaddrinfo has no timeout, and requests' timeouts do not cover it: a resolver that
    does not answer would hold a poll for as long as the system's resolver retries. A
    lookup still hanging is waited on again rather than doubled, until it is older than
    ``within_s`` (a resolver that came back must be noticed at the next poll).
    """
    try:
        ipaddress.ip_address(host)
        return None  # an address needs no lookup
    except ValueError:
        pass
    with _lookups_lock:
        flying = [one for one in _lookups.get((host, port), []) if not one.done.is_set()]
        newest = flying[-1] if flying else None
        if newest is None or (time.monotonic() - newest.started >= within_s
                              and len(flying) < MAX_HUNG_LOOKUPS):
            newest = _Lookup(host, port)
            flying.append(newest)
        _lookups[(host, port)] = flying
    if not newest.done.wait(within_s):
        return contract.NetworkFault("dns", f"looking up {host} took over {within_s:g} s")
    if newest.error is not None:
        return contract.NetworkFault("dns", f"{host}: {newest.error}")
    return None


class FaultLog:
    """Logs each fault kind (and cause, for TLS) of an endpoint at most once a minute
    (saying how many it held back), and an endpoint's recovery at most once a minute, so
    a server that is down or flapping for hours grows the log by a few lines a minute,
    not a line a poll."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.limiter = Limiter(every_s, clock)
        self._failing: set[str] = set()

    def fault(self, endpoint: str, fault: contract.NetworkFault) -> None:
        self._failing.add(endpoint)
        held = self.limiter.allow((endpoint, fault.kind, fault.cause))
        if held is not None:
            log.warning("%s: network fault %s %s%s", endpoint, fault.kind, fault.detail,
                        held_note(held))

    def ok(self, endpoint: str) -> None:
        if endpoint in self._failing:
            self._failing.discard(endpoint)
            if self.limiter.allow((endpoint, "ok")) is not None:
                log.info("%s: answering again", endpoint)

    def foreign(self, endpoint: str, client_id: str) -> None:
        held = self.limiter.allow((endpoint, "foreign"))
        if held is not None:
            log.info("%s: ignored an answer for client %s%s", endpoint, client_id,
                     held_note(held))


class Api:
    """The calls of the specification for one client."""

    def __init__(self, base_url: str, client_id: str, *, timeout_s: float,
                 status_value: int = 1, files_base_url: str | None = None,
                 period_s: float | None = None, method: str = "GET",
                 tls: Tls | None = None) -> None:
        """``method``: GET sends the inputs in the query, POST form-encoded in the body (the
        specification names the inputs, not the method). ``tls``: how HTTPS is trusted."""
        if method not in contract.METHODS:
            raise ValueError(f"method must be one of {contract.METHODS}, not {method!r}")
        self.base_url = base_url.rstrip("/")
        self.files_base_url = (files_base_url or base_url).rstrip("/")
        self.client_id = client_id
        self.status_value = status_value
        self.timeout_s = timeout_s
        self.timeouts = timeouts(timeout_s, period_s)
        self.method = method
        self.tls = tls or Tls(timeout_s=timeout_s)
        self.session = self.tls.session(self.base_url)
        self.session.headers.update(HEADERS)
        self.faults = FaultLog()
        url = urlsplit(self.base_url)
        proxied = bool(self.session.proxies)  # then the proxy looks the name up, not this PC
        self._host = None if proxied else url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)

    def status(self) -> contract.StatusAnswer:
        body = self._call("/rest/status_client", {"clientId": self.client_id})
        return self._read("status_client", body, contract.parse_status, self.client_id)

    def report(self) -> contract.ReportAnswer:
        params = {"clientId": self.client_id, "clientStatus": self.status_value}
        body = self._call("/rest/clientStatus", params)
        return self._read("clientStatus", body, contract.parse_report)

    def offline(self) -> contract.OfflineAnswer:
        body = self._call("/rest/offline", {"clientId": self.client_id})
        return self._read("offline", body, contract.parse_offline)

    def service_number(self) -> contract.ServiceAnswer:
        body = self._call("/rest/serviceNum", {})
        return self._read("serviceNum", body, contract.parse_service_number)

    def _read(self, endpoint: str, body: bytes | contract.NetworkFault,
              parse: Callable[..., T], *args: str) -> T | contract.NetworkFault:
        answer = body if isinstance(body, contract.NetworkFault) else parse(body, *args)
        if isinstance(answer, contract.NetworkFault):
            self.faults.fault(endpoint, answer)
        else:
            self.faults.ok(endpoint)
            if isinstance(answer, contract.ForeignAnswer):
                self.faults.foreign(endpoint, answer.client_id)
        return answer

    def _call(self, path: str, params: dict) -> bytes | contract.NetworkFault:
        """One call with a deadline on the whole answer and a cap on its size."""
        deadline = time.monotonic() + self.timeout_s
        if self._host:
            fault = lookup_fault(self._host, self._port, self.timeouts[0])
            if fault is not None:
                return fault
        try:
            inputs = {"data": params} if self.method == "POST" else {"params": params}
            with self.session.request(self.method, self.base_url + path, **inputs,
                                      timeout=self.timeouts, stream=True) as response:
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
        except requests.exceptions.SSLError as exc:
            return self.tls.fault(self.base_url, exc)
        except requests.ConnectionError as exc:
            return contract.NetworkFault("connection", type(exc).__name__)
        except (requests.RequestException, ValueError, OSError) as exc:
            return contract.NetworkFault("request", f"{type(exc).__name__}: {exc}"[:200])

    def close(self) -> None:
        self.session.close()
