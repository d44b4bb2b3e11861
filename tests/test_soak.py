"""The soak's rule check (tools/soak.py): a cycle's trace against what its customer did."""

from __future__ import annotations

import os

import pytest

from tools import soak


def scene(page: str, reason: str) -> dict:
    return {"ts": 0.0, "event": "scene", "scene": page, "reason": reason}


def reboot(reason: str) -> dict:
    return {"ts": 0.0, "event": "reboot", "reason": reason}


PHONE_END = [scene("B", "input"), scene("C", "rule2:onlineStatus=2"),
             reboot("rule5:onlineStatus=3"), scene("E", "startup"),
             reboot("rule7:onlineStatus=1"), scene("A", "startup")]


def test_a_cycle_that_went_as_the_customer_acted_has_no_violation():
    assert soak.cycle_violations("phone_end", PHONE_END) == []
    report_ended = [*PHONE_END[:2], reboot("rule5:report=2"), *PHONE_END[3:]]
    assert soak.cycle_violations("phone_end", report_ended) == []
    assert soak.cycle_violations("walk_away", [scene("B", "input"),
                                               scene("A", "rule1:idle")]) == []


def test_measurement_lines_in_the_trace_are_no_step_of_a_cycle():
    video = {"ts": 0.0, "event": "video", "shown": 120, "dropped": 0}
    locked = {"ts": 0.0, "event": "locked", "pid": 7}
    assert soak.cycle_violations("phone_end", [video, *PHONE_END[:3], locked,
                                               *PHONE_END[3:], video]) == []


@pytest.mark.parametrize(("entries", "problem"), [
    pytest.param([*PHONE_END[:2], reboot("rule3:ui_closed_in_C"), *PHONE_END[3:]],
                 "step 3 was reboot rule3", id="guardian-reboot"),
    pytest.param(PHONE_END[:4], "missing reboot rule7", id="never-paid-reboot"),
    pytest.param([*PHONE_END, scene("B", "input")], "unexpected scene B:input", id="extra"),
    pytest.param([*PHONE_END[:2], {"ts": 0.0, "event": "reboot_skipped", "reason": "rule5",
                                   "why": "maintenance"}, *PHONE_END[2:]],
                 "step 3 was reboot_skipped", id="skipped-reboot"),
    pytest.param([*PHONE_END[:2], reboot("rule5:data=0"), *PHONE_END[3:]],
                 "step 3 was reboot rule5:data=0", id="wrong-rule-5"),
])
def test_a_cycle_with_a_wrong_or_missing_step_is_a_violation(entries, problem):
    problems = soak.cycle_violations("phone_end", entries)
    assert any(problem in p for p in problems), problems


@pytest.mark.linux
def test_process_figures_are_read_from_proc():
    me = soak.sample(os.getpid())
    assert me is not None and me.rss_kb > 1000 and me.threads >= 1 and me.fds >= 3
    assert soak.sample(2**22 + 1) is None  # above pid_max: no such process


def test_the_remote_log_must_carry_every_page_change_and_reboot_of_the_trace():
    from tests.collector import parse

    def sent(msgid: str, **params: str):
        data = " ".join(f'{k}="{v}"' for k, v in params.items())
        return parse(f"<134>1 2026-01-01T00:00:00.000+08:00 pc kiosk 7 {msgid} "
                     f'[kiosk@32473 clientId="1" event="{msgid}" {data}] text')

    locked = {"ts": 0.0, "event": "locked", "pid": 7}
    video = {"ts": 0.0, "event": "video", "shown": 1}
    trace = [locked, video, *PHONE_END]
    messages = [sent("locked"), sent("scene", page="B", reason="input"),
                sent("scene", page="C", reason="rule2:onlineStatus=2"),
                sent("reboot", page="R", reason="rule5:onlineStatus=3"),
                sent("log", level="WARNING")]
    assert dict(soak.undelivered(trace, messages)) == {
        ("scene", "E", "startup"): 1, ("reboot", None, "rule7:onlineStatus=1"): 1,
        ("scene", "A", "startup"): 1}
    messages += [sent("scene", page="E", reason="startup"),
                 sent("reboot", page="R", reason="rule7:onlineStatus=1"),
                 sent("scene", page="A", reason="startup")]
    assert not soak.undelivered(trace, messages)  # video counts go once a minute: not owed
    assert soak.undelivered([*trace, PHONE_END[0]], messages)  # a second B needs a second line


def test_a_long_session_that_holds_its_memory_shows_no_growth_and_a_leak_does():
    def series(rss_kb, threads=lambda t: 9):
        return [(float(t), soak.Sample(rss_kb(t), threads(t), 20)) for t in range(0, 1200, 10)]

    # The first minutes (the trimmed heap touched again as it is reused) are not judged;
    # small swings are no growth.
    steady = series(lambda t: 60_000 + min(t, 120) * 30 + (t // 10 % 3) * 100)
    assert soak.session_growth(steady) == []
    assert abs(soak.slope_mb_per_hour(soak.session_settled(steady))) < 0.5
    leaking = series(lambda t: 70_000 + 2 * t)  # 2 KB a second: 7 MB an hour
    assert soak.session_growth(leaking) == [
        "UI in C: RSS 68.7 → 70.7 MB (+2.0 MB, over 1)"]
    assert soak.slope_mb_per_hour(leaking) == pytest.approx(2 * 3600 / 1024)
    threads = series(lambda t: 70_000, threads=lambda t: 9 if t < 600 else 10)
    assert soak.session_growth(threads) == ["UI in C: threads 9 → 10, fds 20 → 20"]
