"""The remote log (``log.remote``): trace events and warnings, sent to the venue's syslog
collector, so the reason of a reboot outlives the disk restore that follows it.

Messages are RFC 5424 (app-name ``kiosk``, this PC's hostname, the clientId in the
structured data and in the text), one UDP datagram each (RFC 5426) or octet-counted on
TCP (RFC 6587). Nobody waits for the network: ``send`` formats and queues (the oldest
message goes when the queue is full, and is counted); one daemon thread sends, connects
again with a growing pause, and reports the count once the collector takes messages
again. ``flush`` is the only wait, and a bounded one: a reboot's record leaves the PC
before the reboot command runs. Standard library only (the guardian stays light).

UDP has no delivery: a collector that is down is noticed by the "port unreachable" its
host answers, the message that drew that answer is lost, and while it lasts messages
are held as for TCP. A TCP collector that stops reading loses what its connection had
in flight (bounded by a small send buffer); no plain syslog transport can tell.
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kiosk.logs import Limiter

log = logging.getLogger(__name__)

APP_NAME = "kiosk"
SD_ID = "kiosk@32473"  # 32473: the enterprise number RFC 5612 sets aside for such use
FACILITY = 16  # local0: a venue's collector can file the kiosks apart from the rest
DEFAULT_PORTS = {"udp": 514, "tcp": 601}  # RFC 5426 and RFC 6587's registered ports
UDP_LIMIT = 2048  # RFC 5426: what every receiver should accept
TCP_LIMIT = 8192  # rsyslog's default maximum message size
QUEUE = 1000  # log.remote_queue's default: messages held while the collector is away
FLUSH_S = 0.3  # the longest a reboot waits for its record to leave
CONNECT_S = 3.0
SEND_S = 5.0  # a TCP collector that takes nothing for this long is given up on
SEND_BUFFER = 16 * 1024  # what a connection may hold unread (lost if it is given up)
PROBE_S = 0.2  # a "port unreachable" answer comes back within this on a LAN
RETRY_S = (0.5, 10.0)  # the pause before connecting again: first, longest

EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG = range(8)
LEVELS = {logging.CRITICAL: CRITICAL, logging.ERROR: ERROR, logging.WARNING: WARNING,
          logging.INFO: INFO, logging.DEBUG: DEBUG}
# Each trace event: its severity and the text a collector without structured data shows.
EVENTS: dict[str, tuple[int, str]] = {
    "scene": (INFO, "page {page} ({reason})"),
    "reboot": (NOTICE, "reboot because {reason}"),
    "reboot_skipped": (WARNING, "reboot because {reason} skipped: maintenance mode ({why})"),
    "reboot_failed": (ERROR, "every reboot command failed for {reason}: the PC stays "
                             "locked on 请联系网管"),
    "locked": (INFO, "screen locked (pid {pid})"),
    "video": (INFO, "standby video: {shown} frames shown, {dropped} dropped ({decoder})"),
}
# The standby video's counts come every 5 s: from a venue of PCs that would flood the
# collector, so it gets them once a minute (the local trace keeps them all).
VIDEO_EVERY_S = 60.0
_TARGET = re.compile(r"(udp|tcp)://(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]@]+)(?::(\d{1,5}))?/?")


@dataclass(frozen=True)
class Target:
    """Where the collector listens: ``udp://host:514`` or ``tcp://host:601``."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_target(text: str) -> Target:
    """``log.remote`` read; ValueError when it is neither form."""
    found = _TARGET.fullmatch(text.strip())
    if found is None or not 0 < int(found.group(3) or DEFAULT_PORTS[found.group(1)]) < 65536:
        raise ValueError(text)
    scheme, host, port = found.groups()
    return Target(scheme, host.strip("[]"), int(port or DEFAULT_PORTS[scheme]))


# --- RFC 5424, pure ----------------------------------------------------------------------


def header_field(text: str, most: int) -> str:
    """A header field: printable ASCII without spaces, ``-`` (nil) when empty."""
    kept = "".join(c if "!" <= c <= "~" else "_" for c in text)[:most]
    return kept or "-"


def sd_value(text: str) -> str:
    """A PARAM-VALUE: ``"``, ``\\`` and ``]`` escaped (RFC 5424 section 6.3.3)."""
    return re.sub(r'(["\\\]])', r"\\\1", text)


def timestamp(ts: float) -> str:
    """RFC 3339 local time with milliseconds and the UTC offset."""
    seconds = int(ts)
    local = time.localtime(seconds)
    # tm_gmtoff, not strftime's %z: on Windows %z gives the zone's name.
    sign, offset = ("-", -local.tm_gmtoff) if local.tm_gmtoff < 0 else ("+", local.tm_gmtoff)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{int((ts - seconds) * 1000):03d}"
            + f"{sign}{offset // 3600:02d}:{offset % 3600 // 60:02d}")


def message(*, ts: float, severity: int, hostname: str, procid: int, msgid: str,
            params: Mapping[str, object], text: str, limit: int) -> bytes:
    """One syslog message, at most ``limit`` bytes (the text is cut, never the header)."""
    data = " ".join(f'{header_field(name, 32)}="{sd_value(str(value))}"'
                    for name, value in params.items() if value is not None)
    head = (f"<{FACILITY * 8 + severity}>1 {timestamp(ts)} {header_field(hostname, 255)} "
            f"{APP_NAME} {procid} {header_field(msgid, 32)} [{SD_ID} {data}] ").encode()
    body = text.encode("utf-8")
    if len(head) + len(body) > limit:
        body = body[:max(0, limit - len(head) - 3)].decode("utf-8", "ignore").encode() + b"..."
    return head + body


def event_text(event: str, fields: Mapping[str, object]) -> tuple[int, str]:
    """The severity and text of a trace event (unknown events and fields still read)."""
    severity, template = EVENTS.get(event, (INFO, event))
    values = {name: "?" for name in re.findall(r"{(\w+)}", template)}
    values.update({name: str(value) for name, value in fields.items()})
    return severity, template.format_map(values)


# --- the connection ----------------------------------------------------------------------


class Link:
    """One connection to the collector; every failure is an OSError."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sock: socket.socket | None = None

    @property
    def limit(self) -> int:
        return TCP_LIMIT if self.target.scheme == "tcp" else UDP_LIMIT

    def open(self) -> None:
        target = self.target
        if target.scheme == "tcp":
            sock = socket.create_connection((target.host, target.port), CONNECT_S)
            sock.settimeout(SEND_S)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            self.sock = sock
            return
        family, kind, proto, _, address = socket.getaddrinfo(
            target.host, target.port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.connect(address)  # connected: the host's "port unreachable" is reported
            sock.send(b"")  # an empty datagram: a collector ignores it, a closed port answers
            time.sleep(PROBE_S)
            _raise_pending(sock)
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def send(self, data: bytes) -> None:
        if self.sock is None:
            raise ConnectionError("not connected")
        if self.target.scheme == "udp":
            _raise_pending(self.sock)
            self.sock.send(data)
            return
        if _peer_closed(self.sock):  # a collector that restarted closed its side first
            raise ConnectionResetError("the collector closed the connection")
        self.sock.sendall(b"%d " % len(data) + data)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _raise_pending(sock: socket.socket) -> None:
    """Raise the error an ICMP answer left on a UDP socket, if any."""
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise ConnectionRefusedError(error, "the collector's port is closed")


def _peer_closed(sock: socket.socket) -> bool:
    """A syslog collector never writes: anything readable is its close (or an error)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def probe(target: Target, data: bytes) -> str | None:
    """Send one message now (``check``); what went wrong, or None when it left."""
    link = Link(target)
    try:
        link.open()
        link.send(data)
        if target.scheme == "udp":
            time.sleep(PROBE_S)
            _raise_pending(link.sock)  # type: ignore[arg-type]
    except OSError as exc:
        return describe(exc)
    finally:
        link.close()
    return None


def describe(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the name does not resolve ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "refused: nothing listens on that port"
    return f"{type(exc).__name__}: {exc.strerror or exc}"


# --- the sender --------------------------------------------------------------------------


class RemoteLog:
    """Queues messages for one collector and sends them from a daemon thread."""

    def __init__(self, target: Target, *, client_id: str, hostname: str,
                 queue_size: int = QUEUE, clock: Callable[[], float] = time.monotonic,
                 retry_s: tuple[float, float] = RETRY_S) -> None:
        self.target = target
        self.client_id = client_id
        self.hostname = hostname
        self.page: str | None = None  # the page this process shows (or learned) last
        self.queue_size = queue_size
        self.link = Link(target)
        self.clock = clock
        self.retry_s = retry_s
        self.sent = 0
        self.connects = 0  # attempts to connect, successful or not
        self._queue: deque[tuple[int, bytes]] = deque()
        self._flying: int | None = None  # the number of the message being sent
        self._numbered = 0
        self._dropped = 0  # since the collector last took a message
        self.dropped_total = 0  # since this process started (a report may be lost too)
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._video = Limiter(VIDEO_EVERY_S, clock)
        self.down: str | None = None  # why the collector takes nothing right now

    def send(self, msgid: str, text: str, severity: int = INFO, ts: float | None = None,
             fields: Mapping[str, object] | None = None) -> None:
        """Queue one message; never waits for the network."""
        params = {"clientId": self.client_id, "event": msgid, "page": self.page, **(fields or {})}
        data = message(ts=time.time() if ts is None else ts, severity=severity,
                       hostname=self.hostname, procid=os.getpid(), msgid=msgid, params=params,
                       text=f"client {self.client_id}: {text}", limit=self.link.limit)
        with self._cond:
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self._dropped += 1
            self._numbered += 1
            self._queue.append((self._numbered, data))
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="remote-log")
                self._thread.start()

    def event(self, event: str, fields: Mapping[str, object], ts: float | None = None) -> None:
        """A trace event, as ``kiosk.logs.Trace`` writes it."""
        if event == "video" and self._video.allow(event) is None:
            return
        shown = {("page" if name == "scene" else name): value for name, value in fields.items()}
        severity, text = event_text(event, shown)
        self.send(event, text, severity, ts, shown)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every message queued so far has left, for at most ``timeout_s``."""
        deadline = self.clock() + timeout_s
        with self._cond:
            last = self._numbered
            while not self._out(last):
                left = deadline - self.clock()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout_s: float = FLUSH_S) -> None:
        self.flush(timeout_s)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def _out(self, number: int) -> bool:
        """Whether message ``number`` and all before it were sent or dropped."""
        waiting = self._queue[0][0] if self._queue else None
        return all(n is None or n > number for n in (waiting, self._flying))

    # --- the sending thread

    def _run(self) -> None:
        pause = self.retry_s[0]
        while not self._stopping.is_set():
            with self._cond:
                while not self._queue and not self._stopping.is_set():
                    self._cond.wait()
                if self._stopping.is_set():
                    break
                number, data = self._queue.popleft()
                self._flying = number
            try:
                if self.link.sock is None:
                    self.connects += 1
                    self.link.open()
                    self._report_drops()
                self.link.send(data)
            except OSError as exc:
                self.link.close()
                self._requeue(number, data)
                self._went_down(exc)
                self._stopping.wait(pause)
                pause = min(pause * 2, self.retry_s[1])
                continue
            pause = self.retry_s[0]
            self.sent += 1
            with self._cond:
                self._flying = None
                self._cond.notify_all()
            if self.down is not None:
                log.info("remote log: %s takes messages again", self.target)
                self.down = None
        self.link.close()

    def _requeue(self, number: int, data: bytes) -> None:
        with self._cond:
            self._flying = None
            if len(self._queue) < self.queue_size:
                self._queue.appendleft((number, data))
            else:
                self._dropped += 1
            self._cond.notify_all()

    def _went_down(self, exc: OSError) -> None:
        why = describe(exc)
        if self.down is None:  # once per outage in the local log
            log.warning("remote log: %s takes no messages (%s); holding the newest %d",
                        self.target, why, self.queue_size)
        self.down = why

    def _report_drops(self) -> None:
        """Just connected: first say how many messages did not fit while it was away, and
        how many in all (should a report go into a connection that is read no more)."""
        with self._cond:
            dropped, self._dropped = self._dropped, 0
        if not dropped:
            return
        total = self.dropped_total + dropped
        text = (f"client {self.client_id}: {dropped} messages were dropped while the "
                f"collector took none ({total} since this process started; the kiosk holds "
                f"the newest {self.queue_size})")
        data = message(ts=time.time(), severity=WARNING, hostname=self.hostname,
                       procid=os.getpid(), msgid="remote_dropped",
                       params={"clientId": self.client_id, "event": "remote_dropped",
                               "page": self.page, "messages": dropped, "total": total},
                       text=text, limit=self.link.limit)
        try:
            self.link.send(data)
        except OSError:
            with self._cond:
                self._dropped += dropped
            raise
        self.dropped_total = total
        log.info("remote log: %s told of %d messages dropped meanwhile", self.target, dropped)


class RemoteHandler(logging.Handler):
    """Log records (warning and above) to the remote log, beside the local files."""

    def __init__(self, remote: RemoteLog, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.remote = remote
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        # The sender's own lines stay local: the collector gets its drop count instead.
        self.addFilter(lambda record: record.name != __name__)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.remote.send("log", self.format(record), LEVELS.get(record.levelno, WARNING),
                             record.created, {"level": record.levelname, "logger": record.name})
        except Exception:  # noqa: BLE001 (a log line must never become a crash)
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging API)
        pass

    def close(self) -> None:
        self.remote.close()
        super().close()
