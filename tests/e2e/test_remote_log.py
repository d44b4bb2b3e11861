"""End-to-end remote log (issue 10): the real kiosk on a virtual screen sending to a real
rsyslog on loopback (tests/collector.py, the README's collector lines), over UDP and TCP.

The reboot's record must be on the collector before the reboot command runs. The
command used here ends the process that started it at once, as a real reboot would:
what that process had not sent by then never arrives. Timing is judged by the kiosk's
own clocks (trace, logs) and the simulator's, as in test_kiosk.py.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from kiosk.admin import make_hash
from kiosk.platform.machine import hostname
from kiosk.remote_log import header_field
from tests.collector import Blocker, Collector

from . import xscreen
from .kiosk_run import Kiosk
from .test_guard import gone, marker_reboot, written_at
from .test_kiosk import (
    FPS_C,
    START_S,
    StartKiosk,
    answered_within,
    press,
    since_backend,
    to_session,
)
from .test_kiosk import kiosk as started_kiosks
from .xscreen import VirtualScreen, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.linux]  # X11 tools, signals, /proc

PROTOCOLS = ("udp", "tcp")
PASSWORD = "net-admin 1234"
kiosk_fixture = started_kiosks  # pytest knows a fixture by the name it is found under


@pytest.fixture
def kiosk(kiosk_fixture: StartKiosk) -> StartKiosk:
    """test_kiosk's factory: kiosks started with overrides, screenshots on failure, stopped."""
    return kiosk_fixture


def ending_reboot(marker: Path) -> dict:
    """A reboot command that ends the process that ran it at once (nothing it had not sent
    leaves after that), then writes the time into ``marker``."""
    script = 'kill -KILL "$PPID"; date +%s.%N > "$1"'
    return {"reboot": {"mode": "command", "command": ["sh", "-c", script, "sh", str(marker)]}}


def fault(k: Kiosk, **spec: object) -> None:
    """Set (or with ``fault="clear"`` clear) a fault of the kiosk's simulator."""
    assert k.base_url is not None
    k.http.post(f"{k.base_url}/control/fault", json=spec, timeout=5).raise_for_status()


def logged(k: Kiosk, text: str, after: float, timeout: float = 10.0) -> str:
    return k.wait_log("kiosk-ui", lambda line: text in line, timeout, after=after,
                      message=f"no {text!r} in the UI's log")[2]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_sessions_pages_and_its_reboot_reach_the_collector_before_the_reboot_runs(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path, protocol: str) -> None:
    secret = make_hash(PASSWORD, 1000)
    marker = tmp_path / "rebooted.txt"
    with Collector(tmp_path / "rsyslog", protocol) as collector:
        k = kiosk({"log": {"remote": collector.url}, "admin": {"password_hash": secret},
                   **ending_reboot(marker)})
        to_session(k, screen)
        ui = k.ui_pid()
        pressed = time.time()
        press(k, "ctrl+alt+shift+F10")  # a wrong password: a warning, never the secret
        xscreen.type_text("not the password", screen, window=k.window())
        press(k, "Return")
        logged(k, "admin exit: wrong password", pressed)
        since = k.mark()
        k.control("end")
        reboot = k.wait_reboot("rule5:", timeout=10, since=since)
        wait_until(lambda: written_at(marker), 10, message=f"no reboot command\n{k.logs()}")
        wait_until(lambda: gone(ui), 5, message="the reboot command did not end the UI")

        # Everything below was sent before the reboot command ran: the UI is dead since.
        got = collector.wait_for(lambda m: m.msgid == "reboot", 10, "no reboot record")
        assert got.params == {"clientId": k.client_id, "event": "reboot", "page": "R",
                              "reason": reboot["reason"]}
        assert (got.app, got.procid) == ("kiosk", str(ui))
        assert got.text == f"client {k.client_id}: reboot because {reboot['reason']}"
        scenes = [(m.params["page"], m.params["reason"]) for m in collector.messages()
                  if m.msgid == "scene" and m.procid == str(ui)]
        assert scenes == [("A", "startup"), ("B", "input"), ("C", "rule2:onlineStatus=2")]
        assert all(m.params["clientId"] == k.client_id for m in collector.messages())
        assert {m.hostname for m in collector.messages()} == {header_field(hostname(), 255)}
        warning = collector.wait_for(lambda m: "wrong password" in m.text, 1)
        assert warning.params["level"] == "WARNING" and warning.params["page"] == "C"
        logged(k, "reboot record sent to the remote log", reboot["ts"] - 1)

    # No secret in any line: the collector's, the logs', the trace's.
    written = collector.text() + k.trace_path.read_text("utf-8") + "".join(
        p.read_text("utf-8", "replace") for p in Path(k.config["log"]["dir"]).glob("*.log"))
    for part in (secret, *secret.split("$")[2:], PASSWORD):
        assert part not in written


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_guardians_rule3_reboot_reaches_the_collector_before_its_command_runs(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path, protocol: str) -> None:
    marker = tmp_path / "rebooted.txt"
    with Collector(tmp_path / "rsyslog", protocol) as collector:
        k = kiosk({"log": {"remote": collector.url}, **ending_reboot(marker)})
        to_session(k, screen)
        assert k.proc is not None
        guardian = k.proc.pid
        since = k.mark()
        os.kill(k.ui_pid(), signal.SIGKILL)
        reboot = k.wait_reboot("rule3:", timeout=10, since=since)
        wait_until(lambda: written_at(marker), 10, message=f"no reboot command\n{k.logs()}")
        wait_until(lambda: gone(guardian), 5, message="the command did not end the guardian")
        got = collector.wait_for(lambda m: m.msgid == "reboot", 10, "no reboot record")
        assert got.procid == str(guardian) and reboot["reason"] == "rule3:ui_closed_in_C"
        assert got.params == {"clientId": k.client_id, "event": "reboot", "page": "C",
                              "reason": reboot["reason"]}  # the page the guardian was told


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_collector_blocked_stopped_and_restarted_mid_session_changes_nothing(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path, protocol: str) -> None:
    marker = tmp_path / "rebooted.txt"
    collector = Collector(tmp_path / "rsyslog", protocol).start()
    try:
        k = kiosk({"log": {"remote": collector.url, "remote_queue": 2},
                   **marker_reboot(marker)})
        to_session(k, screen)
        collector.wait_for(lambda m: m.params.get("page") == "C", 10, "no page C")
        ui, guardian = k.ui_pid(), k.proc.pid if k.proc else 0

        collector.stop()
        with Blocker(protocol, collector.port):  # takes connections or datagrams, reads none
            at = time.time()
            reports = k.client()["reports"]
            fault(k, endpoint="status", cycle=[{"fault": "http"}, {"fault": "garbage"}])
            logged(k, "status_client: network fault http", at)
            logged(k, "status_client: network fault malformed", at)
            fault(k, fault="clear")
            # Rule 4 kept its pace (a report a second) while the sender had nowhere to go.
            wait_until(lambda: k.client()["reports"] >= reports + 3, 10,
                       message="the reports stopped while the collector was blocked")

        at = time.time()  # stopped: refused (TCP), "port unreachable" (UDP)
        fault(k, endpoint="report", cycle=[{"fault": "http"}, {"fault": "garbage"}])
        logged(k, "clientStatus: network fault http", at)
        logged(k, "clientStatus: network fault malformed", at)
        fault(k, fault="clear")
        since = k.mark()
        k.control("end")
        reboot = k.wait_reboot("rule5:", timeout=10, since=since)
        assert since_backend(k, "end", reboot) <= answered_within("session_poll_s", FPS_C)
        wait_until(lambda: written_at(marker), 10, message=f"no reboot command\n{k.logs()}")
        line = logged(k, "reboot record not sent to the remote log within 300 ms", at)
        waited = float(re.search(r"waited (\d+) ms", line).group(1))
        assert 300 <= waited < 600, line  # its own bound, and the host's scheduling
        assert k.ui_pids() == [ui] and k.proc is not None and k.proc.pid == guardian
        assert k.proc.poll() is None  # neither was blocked long enough to count as hung

        collector.start()
        report = collector.wait_for(lambda m: m.msgid == "remote_dropped"
                                    and m.procid == str(ui), START_S + 15, "no drop count")
        assert report.params["clientId"] == k.client_id and int(report.params["messages"]) >= 1
        got = collector.wait_for(lambda m: m.msgid == "reboot", 10, "no reboot record")
        assert got.params["reason"] == reboot["reason"]  # the newest were kept, in order
        assert collector.messages().index(report) < collector.messages().index(got)
    finally:
        collector.stop()
