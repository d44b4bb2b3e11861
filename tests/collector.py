"""A real rsyslog on loopback, as a venue's collector, for the remote log's tests and the soak.

Each ``Collector`` runs ``rsyslogd -n`` with a config file, work folder and pid file of
its own in the test's folder. The config is the README's two lines for the venue's
collector (``venue_lines``), with a loopback address, a free port and a file in that
folder; the tests read that file. ``Blocker`` plays a collector that takes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.waiting import wait_until

READY_MSGID = "collector-ready"  # the collector's own probe lines, left out of messages()


def rsyslogd() -> str | None:
    return shutil.which("rsyslogd") or next(
        (p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if os.access(p, os.X_OK)), None)


def require_rsyslog() -> str:
    """rsyslogd's path; skip on a developer machine without it, fail in CI (it must have it)."""
    found = rsyslogd()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("rsyslogd missing in CI (tools/ensure-tools.sh installs rsyslog)")
        pytest.skip("rsyslogd missing (apt-get install rsyslog)")
    return found


def venue_lines(protocol: str, port: int, file: str | Path, address: str | None = None) -> str:
    """The README's collector config: an input, and the kiosk's messages into one file."""
    listen = f' address="{address}"' if address else ""
    return (f'module(load="im{protocol}") input(type="im{protocol}" port="{port}"{listen})\n'
            f'if $app-name == "kiosk" then {{ action(type="omfile" file="{file}" '
            f'template="RSYSLOG_SyslogProtocol23Format") stop }}\n')


def free_port(protocol: str) -> int:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Message:
    """One line of the collector's file (RFC 5424, as rsyslog's protocol-23 format writes)."""

    severity: int
    facility: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""


LINE = re.compile(r"<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[(?:[^\]\\]|\\.)*\]) ?(.*)")
PARAM = re.compile(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')


def parse(line: str) -> Message | None:
    found = LINE.fullmatch(line)
    if found is None:
        return None
    pri, ts, host, app, procid, msgid, data, text = found.groups()
    params = {name: re.sub(r"\\(.)", r"\1", value) for name, value in PARAM.findall(data)}
    return Message(int(pri) % 8, int(pri) // 8, ts, host, app, procid, msgid, params, text)


class Collector:
    """rsyslogd on 127.0.0.1 for ``protocol`` (udp or tcp); stop and start it at will."""

    def __init__(self, folder: Path, protocol: str, port: int | None = None) -> None:
        self.program = require_rsyslog()
        self.folder = folder
        self.protocol = protocol
        self.port = port or free_port(protocol)
        self.file = folder / "collected.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._probes = 0
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "work").mkdir(exist_ok=True)
        self.conf = folder / "rsyslog.conf"
        self.conf.write_text(f'global(workDirectory="{folder / "work"}")\n'
                             + venue_lines(protocol, self.port, self.file, "127.0.0.1"),
                             encoding="utf-8")

    @property
    def url(self) -> str:
        return f"{self.protocol}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> Collector:
        out = (self.folder / "rsyslogd.out").open("ab")
        self.proc = subprocess.Popen(
            [self.program, "-n", "-f", str(self.conf), "-i", str(self.folder / "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        out.close()
        wait_until(self._ready, timeout, interval=0.2,
                   message=f"rsyslogd does not collect on {self.url}: {self.log()}")
        return self

    def _ready(self) -> bool:
        """Whether a probe line sent now comes out in the file (then it collects)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"rsyslogd exited with {self.proc.returncode}: {self.log()}")
        self._probes += 1
        line = f"<134>1 - probe kiosk - {READY_MSGID} - probe {self._probes}".encode()
        try:
            if self.protocol == "tcp":
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"%d %s" % (len(line), line))
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(line, ("127.0.0.1", self.port))
        except OSError:
            return False
        time.sleep(0.1)
        return f"probe {self._probes}" in self.text()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def text(self) -> str:
        try:
            return self.file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def messages(self) -> list[Message]:
        """Every kiosk message collected so far, oldest first (the probes left out)."""
        found = [parse(line) for line in self.text().splitlines()]
        return [m for m in found if m is not None and m.msgid != READY_MSGID]

    def wait_for(self, match, timeout: float, message: str = "no such message") -> Message:
        """The first collected message ``match`` accepts."""
        return wait_until(lambda: next((m for m in self.messages() if match(m)), None),
                          timeout, interval=0.1,
                          message=f"{message}; collected: {self.text()[-3000:]}")

    def log(self) -> str:
        try:
            return (self.folder / "rsyslogd.out").read_text("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Blocker:
    """A collector that takes nothing on ``port``. TCP: a listening socket that never
    accepts nor reads, its queue full (one connection of its own), so a sender's connect
    hangs. UDP: a bound socket that never reads (datagrams vanish without an answer)."""

    def __init__(self, protocol: str, port: int) -> None:
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.filler: socket.socket | None = None
        if protocol == "tcp":
            self.sock.listen(0)
            self.filler = socket.create_connection(("127.0.0.1", port), timeout=2)

    def close(self) -> None:
        if self.filler is not None:
            self.filler.close()
        self.sock.close()

    def __enter__(self) -> Blocker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
