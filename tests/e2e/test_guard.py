"""End-to-end lock-down: hung screens, a second start, maintenance mode, the admin exit and
reboots that fail, with the real kiosk on a virtual X screen (issue 3, items 3, 4 and 7).

Reboots run a harmless command: a marker file written with the time, ``false``, or a
program that does not exist; never a real reboot.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kiosk.admin import make_hash

from . import xscreen
from .conftest import SCREEN
from .kiosk_run import Kiosk, base_config, cmdline, pids_with
from .test_kiosk import (
    FULL,
    QR_URL,
    START_S,
    StartKiosk,
    corners,
    entries,
    fill,
    geometry_is,
    on_standby,
    press,
    qr_shown,
    to_session,
)
from .test_kiosk import kiosk as started_kiosks
from .xscreen import VirtualScreen, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.linux]  # X11 tools, signals, /proc

HANG_S = 3  # the shortest guardian.hang_s the config accepts
FAILED_BGR = (28, 24, 120)  # kiosk/scenes/locked.py FAILED_FILL (120, 24, 28)
REBOOTING_BGR = (24, 14, 10)
BANNER_BGR = (0, 120, 214)  # kiosk/scenes/overlay.py BANNER_FILL (214, 120, 0)
WRITE_TIME = "import pathlib,sys,time; pathlib.Path(sys.argv[1]).write_text(str(time.time()))"
PASSWORD = "net-admin 1234"
SCREEN_W = SCREEN[0]


kiosk_fixture = started_kiosks  # pytest knows a fixture by the name it is found under


@pytest.fixture
def kiosk(kiosk_fixture: StartKiosk) -> StartKiosk:
    """test_kiosk's factory: kiosks started with overrides, screenshots on failure, stopped."""
    return kiosk_fixture


def marker_reboot(path: Path) -> dict:
    """Config whose reboot writes the time into ``path`` (the machine stays up)."""
    return {"reboot": {"mode": "command", "command": [sys.executable, "-c", WRITE_TIME,
                                                       str(path)]}}


def written_at(path: Path) -> float | None:
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def stopped(pid: int):
    """SIGSTOP a process (a hung UI); SIGCONT it afterwards if it still exists."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def gone(pid: int) -> bool:
    """Dead and reaped (or a zombie: dead all the same)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def screen_is(screen: VirtualScreen, bgr: tuple[int, int, int], rects, timeout: float,
              message: str) -> np.ndarray:
    def shown() -> np.ndarray | None:
        img = xscreen.screenshot(screen)
        return img if all(xscreen.is_mostly(img, r, bgr, tolerance=8) for r in rects) else None

    return wait_until(shown, timeout, interval=0.1, message=message)


def banner_shown(img: np.ndarray, area: tuple[int, int, int, int]) -> bool:
    """Some of the 维护模式 banner's orange inside ``area`` (its text covers the rest)."""
    x, y, w, h = area
    patch = img[y:y + h, x:x + w].astype(int)
    close = np.all(np.abs(patch - np.array(BANNER_BGR)) <= 10, axis=2)
    return close.mean() > 0.2


def to_session_from_standby(k: Kiosk, screen: VirtualScreen) -> None:
    """A → B → C when A is showing already."""
    since = k.mark()
    xscreen.click(200, 200, screen)
    k.wait_scene("B", "input", timeout=5, since=since)
    k.control("start")
    k.wait_scene("C", "rule2:onlineStatus=2", timeout=10, since=since)


# --------------------------------------------------------------------------- hangs


def test_hung_widget_counts_as_closed_and_reboots_within_hang_time(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted.txt"
    k = kiosk({**marker_reboot(marker), "guardian": {"hang_s": HANG_S}})
    to_session(k, screen)
    old = k.ui_pid()
    since = k.mark()
    with stopped(old):
        hung_at = time.time()
        # The guardian's decision, by its trace line; the marker is written by a cold
        # Python it starts, so it only shows that the command ran, once, after that.
        reboot = k.wait_reboot("rule3:", timeout=HANG_S + 10, since=since)
        print(f"rule 3 reboot traced {reboot['ts'] - hung_at:.3f} s after the hang")
        assert reboot["reason"] == "rule3:ui_hung_in_C"
        assert reboot["ts"] - hung_at <= HANG_S + 1.5, (
            f"rebooted {reboot['ts'] - hung_at:.1f}s after the hang")
        at = wait_until(lambda: written_at(marker), 10, interval=0.05,
                        message=f"no reboot for the stopped UI\n{k.logs()}")
        assert at >= reboot["ts"] - 0.001, "the reboot command ran before the guardian decided"
        wait_until(lambda: gone(old), 5, message="the hung UI was not killed")
    new = k.ui_pid(timeout=10, other_than=old)
    geometry_is(k, FULL)
    screen_is(screen, REBOOTING_BGR, corners(), START_S, "系统重启中 does not cover the screen")
    assert k.ui_pids() == [new]
    assert len(entries(k, since, "reboot")) == 1
    assert written_at(marker) == at, "the reboot command ran twice"


def test_hung_standby_page_is_replaced_by_a_new_one_without_reboot(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted.txt"
    k = kiosk({**marker_reboot(marker), "guardian": {"hang_s": HANG_S}})
    on_standby(k)
    old = k.ui_pid()
    since = k.mark()
    with stopped(old):
        new = k.ui_pid(timeout=HANG_S + 10, other_than=old)
    k.wait_scene("A", "startup", timeout=START_S, since=since)
    geometry_is(k, FULL)
    assert gone(old) and k.ui_pids() == [new]
    assert written_at(marker) is None and entries(k, event="reboot") == []


def test_suspended_guardian_is_replaced_so_killing_the_widget_still_reboots(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted.txt"
    k = kiosk({**marker_reboot(marker), "guardian": {"hang_s": HANG_S}})
    to_session(k, screen)
    ui = k.ui_pid()
    assert k.proc is not None
    old = k.proc.pid
    with stopped(old):  # a customer suspends the guardian (Resource Monitor can)
        wait_until(lambda: gone(old), HANG_S + 10, interval=0.1,
                   message=f"the suspended guardian was not replaced\n{k.logs()}")
    adopted = wait_until(lambda: guardians(k, other_than=old), 10, interval=0.05,
                         message="no new guardian")
    # Up and holding the kiosk's lock (the UI sent it the page C on its pipe at its start).
    lock = Path(k.config["log"]["dir"]) / "kiosk.lock"
    wait_until(lambda: lock.read_text().strip() == str(adopted), 10, interval=0.05,
               message="the new guardian did not take the lock")
    since = k.mark()
    os.kill(ui, signal.SIGKILL)  # ... then closes the widget
    k.wait_reboot("rule3:ui_closed_in_C", timeout=10, since=since)
    wait_until(lambda: written_at(marker), 10, interval=0.05,
               message=f"no reboot after the widget was killed\n{k.logs()}")
    assert adopted in k.pids()


def guardians(k: Kiosk, other_than: int) -> int | None:
    """The one live guardian of ``k`` other than ``other_than``."""
    found = []
    for pid in k.pids():
        args = cmdline(pid)
        if pid != other_than and "--role" in args and args[args.index("--role") + 1] == "guardian":
            found.append(pid)
    return found[0] if len(found) == 1 else None


def test_busy_but_alive_kiosk_is_left_alone_past_hang_time(
        screen: VirtualScreen, kiosk: StartKiosk) -> None:
    k = kiosk({"guardian": {"hang_s": HANG_S}})
    on_standby(k)  # the standby video keeps the loop busy the whole time
    ui = k.ui_pid()
    time.sleep(HANG_S * 2)
    assert k.ui_pids() == [ui]


# --------------------------------------------------------------------------- one kiosk


def test_two_starts_at_once_give_one_kiosk_and_a_plain_sentence(
        screen: VirtualScreen, tmp_path: Path) -> None:
    config = base_config(tmp_path)
    first = Kiosk(screen, tmp_path, config, name="first")
    second = Kiosk(screen, tmp_path, config, name="second")
    second.config_path = first.config_path  # the same kiosk, started twice
    first.write_config()
    try:
        first.launch()
        second.launch()
        procs = [first.proc, second.proc]
        assert all(p is not None for p in procs)
        wait_until(lambda: any(p.poll() is not None for p in procs), 20, interval=0.05,
                   message=f"neither start exited\n{first.logs()}\n{second.logs()}")
        loser, winner = (first, second) if first.proc.poll() is not None else (second, first)
        assert loser.proc.returncode == 3, loser.logs()
        lines = loser.err_path.read_text("utf-8").splitlines()
        assert len(lines) == 1, lines  # one line, like a config error
        assert lines[0].endswith(f"the kiosk is already running (pid {winner.proc.pid}).")
        assert winner.proc.poll() is None
        ui = winner.ui_pid(timeout=START_S)
        wait_until(lambda: xscreen.windows_of(ui, screen, timeout=1), START_S,
                   message="the kiosk that runs shows no window")
        time.sleep(2)
        assert winner.ui_pids() == [ui], "a second screen process appeared"
        simulators = pids_with(str(first.config_path), "--role", "simulator")
        assert sorted(winner.pids()) == sorted([winner.proc.pid, ui, *simulators])
        assert len(simulators) <= 1
    finally:
        first.stop()
        second.stop()


def test_guardian_started_by_the_ui_after_a_kill_takes_the_lock_over(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    k = kiosk()
    on_standby(k)
    ui = k.ui_pid()
    assert k.proc is not None
    old = k.proc.pid
    os.kill(old, signal.SIGKILL)

    adopted = wait_until(lambda: guardians(k, other_than=old), 10, interval=0.05,
                         message=f"the UI started no new guardian\n{k.logs()}")
    lock = Path(k.config["log"]["dir"]) / "kiosk.lock"
    wait_until(lambda: lock.read_text().strip() == str(adopted), 10, interval=0.05,
               message="the new guardian did not take the lock")
    again = Kiosk(screen, tmp_path, k.config, name="again")
    again.config_path = k.config_path
    again.launch()
    assert again.proc is not None and again.proc.wait(timeout=20) == 3
    assert f"already running (pid {adopted})" in again.err_path.read_text("utf-8")
    assert k.ui_pids() == [ui]


# --------------------------------------------------------------------------- maintenance


def test_maintenance_flag_shows_the_banner_and_no_rule_reboots(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted.txt"
    flag = tmp_path / "maintenance.flag"
    k = kiosk({**marker_reboot(marker),
               "maintenance": {"flag_file": str(flag), "check_s": 0.5}})
    on_standby(k)
    top = (SCREEN_W // 2 - 20, 8, 40, 14)
    assert not banner_shown(xscreen.screenshot(screen), top)
    flag.touch()  # the operator enters maintenance while the kiosk runs
    wait_until(lambda: banner_shown(xscreen.screenshot(screen), top), 10, interval=0.1,
               message="no 维护模式 banner on A")

    to_session_from_standby(k, screen)
    widget_top = (SCREEN_W - 336 + 160 - 15, 16 + 2, 30, 10)
    wait_until(lambda: banner_shown(xscreen.screenshot(screen), widget_top), 10, interval=0.1,
               message="no 维护模式 banner on the widget")

    since = k.mark()
    k.control("end")  # rule 5 in C: a reboot, skipped
    skipped = k.wait_entry(lambda e: e["event"] == "reboot_skipped", 10, since)
    assert skipped["reason"].startswith("rule5:") and str(flag) in skipped["why"]
    k.wait_scene("E", "startup", timeout=START_S, since=since)  # started over: the unpaid page
    assert written_at(marker) is None and entries(k, event="reboot") == []


def test_maintenance_flag_makes_a_killed_widget_come_back_with_the_session(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted.txt"
    flag = tmp_path / "maintenance.flag"
    flag.touch()
    k = kiosk({**marker_reboot(marker), "maintenance": {"flag_file": str(flag)}})
    to_session(k, screen)
    old = k.ui_pid()
    since = k.mark()
    os.kill(old, signal.SIGKILL)
    k.wait_scene("C", "startup", timeout=START_S, since=since)
    skipped = k.wait_entry(lambda e: e["event"] == "reboot_skipped", 5, since)
    assert skipped["reason"] == "rule3:ui_closed_in_C"
    assert written_at(marker) is None and entries(k, event="reboot") == []

    flag.unlink()  # maintenance over: rule 3 reboots again
    old = k.ui_pid()
    since = k.mark()
    os.kill(old, signal.SIGKILL)
    k.wait_reboot("rule3:ui_closed_in_C", timeout=10, since=since)
    wait_until(lambda: written_at(marker), 10, interval=0.05, message="no reboot after maintenance")


# --------------------------------------------------------------------------- admin exit


def test_admin_chord_and_password_stop_the_kiosk_in_a_session_without_reboot(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted.txt"
    k = kiosk({**marker_reboot(marker), "debug": False,
               "admin": {"password_hash": make_hash(PASSWORD, 1000)}})
    to_session(k, screen)
    ui = k.ui_pid()
    press(k, "ctrl+alt+shift+F10")
    xscreen.type_text("wrong", screen, window=k.window())
    press(k, "Return")
    time.sleep(1.0)
    assert k.proc is not None and k.proc.poll() is None and k.ui_pids() == [ui]
    xscreen.type_text(PASSWORD, screen, window=k.window())
    press(k, "Return")
    assert k.proc.wait(timeout=15) == 0
    wait_until(lambda: k.pids() == [], 5, message="kiosk processes left after the admin exit")
    assert written_at(marker) is None and entries(k, event="reboot") == []


def test_admin_chord_without_a_password_configured_does_nothing(
        screen: VirtualScreen, kiosk: StartKiosk) -> None:
    k = kiosk({"debug": False, "timers": {"scan_idle_s": 30}})
    on_standby(k)
    xscreen.click(200, 200, screen)
    k.wait_scene("B", "input", timeout=5)
    pressed = time.time()
    press(k, "ctrl+alt+shift+F10")
    # The UI took the chord (and said why it does nothing) before the screen is judged.
    k.wait_log("kiosk-ui", lambda line: "admin.password_hash is not set" in line, 10,
               after=pressed, message="the UI did not log the chord")
    qr_shown(screen, fill(QR_URL))  # no prompt card over the QR
    assert k.proc is not None and k.proc.poll() is None


def test_admin_prompt_covers_the_page_and_escape_closes_it(
        screen: VirtualScreen, kiosk: StartKiosk) -> None:
    k = kiosk({"debug": False, "timers": {"scan_idle_s": 30},
               "admin": {"password_hash": make_hash(PASSWORD, 1000)}})
    on_standby(k)
    xscreen.click(200, 200, screen)
    k.wait_scene("B", "input", timeout=5)
    press(k, "ctrl+alt+shift+F10")
    wait_until(lambda: not xscreen.decode_qr(xscreen.screenshot(screen)), 10, interval=0.1,
               message="the prompt does not cover the page")
    press(k, "Escape")
    qr_shown(screen, fill(QR_URL))
    assert k.proc is not None and k.proc.poll() is None


# --------------------------------------------------------------------------- failed reboots


def test_failing_reboot_command_leaves_the_pc_locked_on_contact_staff(
        screen: VirtualScreen, kiosk: StartKiosk) -> None:
    k = kiosk({"reboot": {"mode": "command", "command": ["false"]}})
    to_session(k, screen)
    since = k.mark()
    k.control("end")
    k.wait_reboot("rule5:", timeout=10, since=since)
    failed = k.wait_entry(lambda e: e["event"] == "reboot_failed", 10, since)
    assert failed["reason"].startswith("rule5:")
    geometry_is(k, FULL)
    screen_is(screen, FAILED_BGR, corners(), 10, "请联系网管 does not cover the screen")
    ui = k.ui_pid()
    time.sleep(3)  # no routing, no second reboot, no unlock
    assert entries(k, since, "scene") == [] and len(entries(k, since, "reboot")) == 1
    assert k.ui_pids() == [ui]
    screen_is(screen, FAILED_BGR, corners(), 1, "请联系网管 is gone")

    os.kill(ui, signal.SIGKILL)  # killed there: back on the same page, still no reboot
    k.ui_pid(timeout=10, other_than=ui)
    screen_is(screen, FAILED_BGR, corners(), START_S, "请联系网管 did not come back")
    assert len(entries(k, since, "reboot")) == 1


def test_guardian_reboot_with_a_missing_program_ends_on_contact_staff(
        screen: VirtualScreen, kiosk: StartKiosk, tmp_path: Path) -> None:
    k = kiosk({"reboot": {"mode": "command", "command": [str(tmp_path / "no-such-reboot")]}})
    to_session(k, screen)
    old = k.ui_pid()
    since = k.mark()
    os.kill(old, signal.SIGKILL)
    k.wait_reboot("rule3:ui_closed_in_C", timeout=10, since=since)
    k.wait_entry(lambda e: e["event"] == "reboot_failed", 10, since)
    k.ui_pid(timeout=10, other_than=old)
    geometry_is(k, FULL)
    screen_is(screen, FAILED_BGR, corners(), START_S, "请联系网管 does not cover the screen")


def test_reboot_accepted_but_never_happening_ends_on_contact_staff(
        screen: VirtualScreen, kiosk: StartKiosk) -> None:
    # `true` says yes and does nothing, like a shutdown a diskless system blocks. 系统重启中
    # shows for about twice down_within_s: long enough to photograph on a busy machine.
    down_within_s = 3
    k = kiosk({"reboot": {"mode": "command", "command": ["true"],
                          "down_within_s": down_within_s}})
    to_session(k, screen)
    since = k.mark()
    k.control("end")
    reboot = k.wait_reboot("rule5:", timeout=10, since=since)
    screen_is(screen, REBOOTING_BGR, corners(), 5, "系统重启中 does not cover the screen")
    failed = k.wait_entry(lambda e: e["event"] == "reboot_failed", 2 * down_within_s + 10, since)
    # Believed for down_within_s, asked again, believed again: only then it failed.
    assert failed["ts"] - reboot["ts"] >= 2 * down_within_s
    geometry_is(k, FULL)
    screen_is(screen, FAILED_BGR, corners(), 10, "请联系网管 does not cover the screen")
    assert len(entries(k, since, "reboot")) == 1 and entries(k, since, "scene") == []
