"""End to end: one disk image, ``client.id: auto``, each PC finding its id in clients.csv.

The real kiosk runs on a virtual screen with a mapping file written for this very
machine (its hostname), so what is checked is what a venue sees: the id the
simulator is asked about and the id in the QR, or the locked 未登记的机器 page.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.platform.machine import linux_macs

from . import xscreen
from .conftest import SCREEN
from .kiosk_run import QR_URL, Kiosk, fill, start_kiosk
from .xscreen import VirtualScreen, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.linux]  # X11 tools, signals, /proc

START_S = 15.0
UNREGISTERED_BGR = (16, 24, 40)  # kiosk/scenes/unregistered.py BACKGROUND (40, 24, 16)
TOP_BAND = (0, 0, SCREEN[0], 60)  # above the title: the page's plain background


def write_map(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "clients.csv"
    path.write_text("hostname,mac,client_id\n" + "".join(f"{r}\n" for r in rows),
                    encoding="utf-8")
    return path


@pytest.fixture
def started(screen: VirtualScreen, tmp_path: Path) -> Iterator[list[Kiosk]]:
    kiosks: list[Kiosk] = []
    yield kiosks
    for k in kiosks:
        k.stop()


def auto_kiosk(screen: VirtualScreen, tmp_path: Path, started: list[Kiosk],
               rows: list[str]) -> Kiosk:
    write_map(tmp_path, rows)
    # The map file is given relative to the config's folder, as an operator writes it.
    # B stays up (rule 1) long enough for screenshots and QR decoding on a busy machine.
    k = start_kiosk(screen, tmp_path, {"client": {"id": "auto", "map_file": "clients.csv"},
                                       "timers": {"scan_idle_s": 30}})
    started.append(k)
    return k


def rest_requests(k: Kiosk) -> dict[str, int]:
    state = k.state()
    return {path: n for path, n in state["requests_by_path"].items() if path.startswith("/rest")}


def this_pc_row(by: str) -> tuple[str, str]:
    """A clients.csv line naming this machine by hostname or by its first MAC, and how
    the kiosk should log the match."""
    if by == "hostname":
        hostname = socket.gethostname()
        return f"{hostname.upper()},,370042", f"clients.csv by hostname {hostname}"
    macs = linux_macs()
    if not macs:
        pytest.skip("this machine has no network card with a MAC address")
    windows_style = macs[0].upper().replace(":", "-")  # as ipconfig prints it
    return f"SOMEONE-ELSE,{windows_style},370042", f"clients.csv by MAC {macs[0]}"


@pytest.mark.parametrize("by", ["hostname", "mac"])
def test_auto_id_from_the_mapping_file_is_the_one_the_server_and_the_qr_see(
        screen: VirtualScreen, tmp_path: Path, started: list[Kiosk], by: str) -> None:
    row, source = this_pc_row(by)
    k = auto_kiosk(screen, tmp_path, started, ["OTHER-PC,52:54:00:00:00:01,370001", row])
    k.wait_scene("A", "startup", timeout=START_S)

    clients = wait_until(lambda: {c: v for c, v in k.state()["clients"].items()
                                  if v.get("requests")}, 10, interval=0.1,
                         message="the simulator was asked about no client")
    assert set(clients) == {"370042"}, clients  # never "auto", never another PC's id

    since = k.mark()
    xscreen.click(200, 200, screen)
    k.wait_scene("B", "input", timeout=5, since=since)
    wanted = fill(QR_URL, "370042")
    wait_until(lambda: xscreen.decode_qr(xscreen.screenshot(screen)) == [wanted], 10,
               interval=0.1, message=f"QR {wanted!r} not shown")

    log = (tmp_path / "logs" / "kiosk-ui.log").read_text(encoding="utf-8")
    assert f"client id 370042 (from {source})" in log


def test_a_pc_missing_from_the_mapping_file_stays_locked_on_the_unregistered_page(
        screen: VirtualScreen, tmp_path: Path, started: list[Kiosk]) -> None:
    k = auto_kiosk(screen, tmp_path, started, ["OTHER-PC,52:54:00:00:00:01,370001"])
    ui = k.ui_pid(timeout=START_S)

    def unregistered_page() -> bool:
        return xscreen.is_mostly(xscreen.screenshot(screen), TOP_BAND, UNREGISTERED_BGR)

    wait_until(unregistered_page, START_S, interval=0.2,
               message=f"the 未登记的机器 page never showed\n{k.logs()}")
    shot = xscreen.screenshot(screen)
    assert xscreen.region_mean(shot, 0, 0, *SCREEN) != (0.0, 0.0, 0.0)
    assert xscreen.is_mostly(shot, (0, SCREEN[1] - 40, SCREEN[0], 40), UNREGISTERED_BGR)
    assert not xscreen.is_mostly(shot, (0, 60, SCREEN[0], SCREEN[1] - 100), UNREGISTERED_BGR,
                                 fraction=0.999)  # the title and the machine's facts are drawn

    # Input unlocks nothing, the flow never starts, nobody asks the server with a wrong id,
    # and the guardian does not restart the UI: it is the same one a few seconds later.
    xscreen.click(200, 200, screen)
    xscreen.key("space", screen, window=k.window())
    time.sleep(3)
    assert k.ui_pids() == [ui]
    assert rest_requests(k) == {}
    assert [e for e in k.trace() if e["event"] == "scene"] == []
    assert unregistered_page()

    log = (tmp_path / "logs" / "kiosk-ui.log").read_text(encoding="utf-8")
    assert f"this machine is not registered: hostname {socket.gethostname()}" in log


def test_a_pc_added_to_the_mapping_file_while_it_waits_starts_with_its_id(
        screen: VirtualScreen, tmp_path: Path, started: list[Kiosk]) -> None:
    write_map(tmp_path, ["OTHER-PC,52:54:00:00:00:01,370001"])
    k = start_kiosk(screen, tmp_path, {"client": {"id": "auto", "map_file": "clients.csv",
                                                  "map_check_s": 1}})
    started.append(k)
    ui = k.ui_pid(timeout=START_S)
    wait_until(lambda: xscreen.is_mostly(xscreen.screenshot(screen), TOP_BAND,
                                         UNREGISTERED_BGR), START_S, interval=0.2,
               message=f"the 未登记的机器 page never showed\n{k.logs()}")
    assert rest_requests(k) == {}

    row, _ = this_pc_row("hostname")
    write_map(tmp_path, ["OTHER-PC,52:54:00:00:00:01,370001", row])  # the operator's line
    k.wait_scene("A", "startup", timeout=1 + START_S)
    assert k.ui_pid(other_than=ui) != ui  # a new UI, started by the guardian, not a reboot
    assert [e for e in k.trace() if e["event"] == "reboot"] == []
    clients = wait_until(lambda: {c: v for c, v in k.state()["clients"].items()
                                  if v.get("requests")}, 10, interval=0.1,
                         message="the simulator was asked about no client")
    assert set(clients) == {"370042"}, clients
    log = (tmp_path / "logs" / "kiosk-ui.log").read_text(encoding="utf-8")
    assert "this machine is registered now, as client 370042" in log
