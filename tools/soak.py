"""Soak: the real kiosk (guardian, UI, embedded simulator) cycling sessions for minutes.

``make soak`` (``SOAK_MINUTES=10`` by default) starts ``python main.py`` under Xvfb with
the end-to-end tests' harness (tests/e2e/kiosk_run.py: short timers, reboot mode
simulate) and plays customers one after another until the time is up:

- phone end: A → click → B → the phone starts → C (rule 2), reports flow (rule 4) →
  the phone ends it → reboot (rule 5) → E with the pay QR → the phone pays → reboot
  (rule 7) → A;
- confirm: … → C → 结束上机 → D → Enter → offline → the phone pays during the
  countdown → reboot exactly ``after_confirm_reboot_s`` later (rule 6) → A;
- walk away: A → click → B → nobody touches it → A (rule 1).

Each cycle's trace lines (``log.trace``) must be exactly the expected page changes and
reboots, with rules 1 and 6 on time; anything else is a rule violation. From outside
the processes (``/proc``) it samples the UI's, the guardian's and the simulator's RSS,
threads and open file descriptors on page A after every cycle, and it reports the log
size. The report goes to ``bench-out/soak.md``; the exit code is 1 on any violation or
on threads or descriptors that grew.

``--session-minutes M`` then keeps one customer's session in the widget for M minutes
(after the cycles, so the UI has been through every page many times) and samples the
UI's RSS, threads and descriptors every ``SESSION_SAMPLE_S``: from ``SESSION_SETTLE_S``
into C to the end they must not grow (RSS by at most ``SESSION_GROWTH_MB``). With the e2e timers
(status every 0.5 s, a report every second) 30 minutes make as many status polls as 2
hours at a venue's default (2 s), and 2.5 times the reports (default every 10 s).

With rsyslogd on the machine the kiosk also sends its remote log (``log.remote``, TCP by
default) to a real rsyslog (tests/collector.py), which is stopped for every
``OUTAGE_EVERY``-th cycle and started again after it: the senders go through their
outages and reconnects, and after each cycle every page change and reboot of the trace
must have reached the collector (none lost, held while it was down).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: ``python tools/soak.py``
    sys.path.insert(0, str(ROOT))

from kiosk.logs import BACKUPS, MAX_BYTES  # noqa: E402
from tests.collector import Collector, Message, rsyslogd  # noqa: E402
from tests.e2e import xscreen  # noqa: E402
from tests.e2e.kiosk_run import (  # noqa: E402
    PAY_QR_URL,
    QR_URL,
    Kiosk,
    fill,
    pids_with,
    start_kiosk,
)

Entry = dict[str, Any]
SCREEN = (1280, 720)
START_S = 20.0  # a cold start on a busy machine
STEP_S = 8.0  # the longest any one step may take before it counts as a violation
SLACK_S = 1.5  # how late a timed rule may fire on a busy machine
# The trace stamps a page change after the page is built (B builds its QR for about
# 0.1 s), while the core counts rule 1 from the input itself: B → A in the trace reads
# that much short of scan_idle_s. More than this short is a rule firing early.
EARLY_S = 0.25

# What each kind of cycle must leave in the trace: (event, scene or reboot reason).
EXPECTED: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "phone_end": [
        ("scene", ("B:input",)),
        ("scene", ("C:rule2:onlineStatus=2",)),
        ("reboot", ("rule5:onlineStatus=3", "rule5:report=2")),
        ("scene", ("E:startup",)),
        ("reboot", ("rule7:onlineStatus=1",)),
        ("scene", ("A:startup",)),
    ],
    "confirm": [
        ("scene", ("B:input",)),
        ("scene", ("C:rule2:onlineStatus=2",)),
        ("scene", ("D:end_pressed",)),
        ("reboot", ("rule6:after_confirm",)),
        ("scene", ("A:startup",)),
    ],
    "walk_away": [
        ("scene", ("B:input",)),
        ("scene", ("A:rule1:idle",)),
    ],
}
CYCLES = ("phone_end", "confirm", "walk_away")
WARM_UP = len(CYCLES)  # cycles before the samples that growth is judged from
OUTAGE_EVERY = 4  # the collector is down for every fourth cycle
DELIVERY_S = 30.0  # after an outage: the sender's longest pause, its reconnect, its backlog
SESSION_SAMPLE_S = 10.0  # the long session's samples of the UI in C
# Its growth is judged from this long into C: the heap trimmed on entering C is touched
# again as the widget's allocations cycle through its free blocks (+3 MB over the first
# 2 minutes at the e2e timers, then flat), which is settling, not growth.
SESSION_SETTLE_S = 180.0
SESSION_GROWTH_MB = 1.0  # more than this from then to the end is growth
# What the remote log must carry of the trace (video counts go once a minute only).
REMOTE_EVENTS = frozenset({"scene", "reboot", "reboot_skipped", "reboot_failed", "locked"})


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {max(values):.2f} s" if values else "-"


def trace_key(entry: Entry) -> tuple[str, str]:
    """A trace line as the expectations name it: ("scene", "C:rule2:…") or ("reboot", …)."""
    if entry.get("event") == "scene":
        return "scene", f"{entry.get('scene')}:{entry.get('reason')}"
    return str(entry.get("event")), str(entry.get("reason"))


# The trace's measurements (the first locked frame, video playback counts) are no step
# of a cycle; every page change and every reboot, done, skipped or failed, is.
MEASUREMENTS = frozenset({"locked", "video"})


def cycle_violations(kind: str, entries: list[Entry]) -> list[str]:
    """How a cycle's trace lines differ from what its customer's actions call for."""
    expected = EXPECTED[kind]
    got = [trace_key(e) for e in entries if e.get("event") not in MEASUREMENTS]
    problems = []
    for i, (event, allowed) in enumerate(expected):
        if i >= len(got):
            problems.append(f"{kind}: missing {event} {' or '.join(allowed)}")
        elif got[i][0] != event or got[i][1] not in allowed:
            problems.append(f"{kind}: step {i + 1} was {got[i][0]} {got[i][1]}, expected "
                            f"{event} {' or '.join(allowed)}")
    problems += [f"{kind}: unexpected {e} {r}" for e, r in got[len(expected):]]
    return problems


def trace_events(entries: list[Entry]) -> Counter[tuple[str, str | None, str | None]]:
    """The trace's events that the remote log carries, as (event, page, reason)."""
    return Counter((str(e["event"]), e.get("scene"), e.get("reason")) for e in entries
                   if e.get("event") in REMOTE_EVENTS)


def collected_events(messages: list[Message]) -> Counter[tuple[str, str | None, str | None]]:
    """The same, from the collector's messages."""
    return Counter((m.msgid, m.params.get("page") if m.msgid == "scene" else None,
                    m.params.get("reason")) for m in messages if m.msgid in REMOTE_EVENTS)


def undelivered(entries: list[Entry], messages: list[Message]) -> Counter:
    """Trace events the collector has not (yet) got."""
    return trace_events(entries) - collected_events(messages)


# --- measured from outside, through /proc ------------------------------------------------


@dataclass(frozen=True)
class Sample:
    rss_kb: int
    threads: int
    fds: int


def sample(pid: int) -> Sample | None:
    """RSS, threads and open descriptors of a process, read from /proc; None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmRSS:"))
        return Sample(rss, len(os.listdir(f"/proc/{pid}/task")),
                      len(os.listdir(f"/proc/{pid}/fd")))
    except (OSError, StopIteration, ValueError):
        return None


def log_bytes(log_dir: Path) -> dict[str, int]:
    """Bytes per log file in the kiosk's log folder (rotated ones included)."""
    return {p.name: p.stat().st_size for p in sorted(log_dir.glob("*.log*"))}


# --- the soak ---------------------------------------------------------------------------


@dataclass
class Soak:
    kiosk: Kiosk
    screen: xscreen.VirtualScreen
    timers: dict[str, float]
    violations: list[str] = field(default_factory=list)
    completed: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[tuple[float, Sample]]] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    qr_checks: int = 0
    rule1_waits: list[float] = field(default_factory=list)  # B → A by the trace
    rule6_waits: list[float] = field(default_factory=list)  # Enter pressed → reboot
    collector: Collector | None = None
    in_session: list[tuple[float, Sample]] = field(default_factory=list)  # the UI in C, long
    outages: int = 0
    delivery_waits: list[float] = field(default_factory=list)  # collector back → all there

    # --- steps

    def wait(self, what: str, find: Callable[[], Any], timeout: float = STEP_S) -> Any:
        """Wait for a step; a step that never comes is a violation (None is returned)."""
        try:
            return xscreen.wait_until(find, timeout, interval=0.05, message=what)
        except AssertionError as exc:
            self.violations.append(str(exc)[:300])
            return None

    def scene(self, scene: str, reason: str | None, since: int,
              timeout: float = STEP_S) -> Entry | None:
        k = self.kiosk
        return self.wait(f"no scene {scene} ({reason})", lambda: next(
            (e for e in k.trace()[since:] if e.get("event") == "scene"
             and e.get("scene") == scene and (reason is None or e.get("reason") == reason)),
            None), timeout)

    def reboot(self, prefix: str, since: int, timeout: float = STEP_S) -> Entry | None:
        k = self.kiosk
        return self.wait(f"no reboot {prefix}", lambda: next(
            (e for e in k.trace()[since:] if e.get("event") == "reboot"
             and str(e.get("reason", "")).startswith(prefix)), None), timeout)

    def qr(self, expected: str) -> None:
        """The screen shows exactly this QR (decoded from a screenshot)."""
        self.qr_checks += 1
        self.wait(f"QR {expected!r} not shown",
                  lambda: xscreen.decode_qr(xscreen.screenshot(self.screen)) == [expected], 5)

    def touch(self, since: int) -> Entry | None:
        xscreen.click(200, 200, self.screen)
        return self.scene("B", "input", since, 3)

    def session(self, since: int) -> Entry | None:
        self.qr(fill(QR_URL))
        self.kiosk.control("start")
        return self.scene("C", "rule2:onlineStatus=2", since)

    # --- cycles

    def phone_end(self, since: int) -> None:
        k = self.kiosk
        if not (self.touch(since) and self.session(since)):
            return
        reports = k.client()["reports"]
        time.sleep(3 * self.timers["session_report_s"])
        if k.client()["reports"] < reports + 2:
            self.violations.append("rule 4: fewer than 2 reports in 3 report periods")
        k.control("end")
        if not (self.reboot("rule5:", since) and self.scene("E", "startup", since)):
            return
        self.qr(fill(PAY_QR_URL))
        k.control("pay")
        if self.reboot("rule7:", since):
            self.scene("A", "startup", since)

    def confirm(self, since: int) -> None:
        k = self.kiosk
        if not (self.touch(since) and self.session(since)):
            return
        widget = self.wait("the widget is not in place", self.widget)
        if widget is None:
            return
        x, y, w, h = widget
        xscreen.click(x + w // 2, y + h - 32, self.screen)  # 结束上机
        if not self.scene("D", "end_pressed", since, 3):
            return
        offline_calls = k.client()["offline_calls"]
        confirm_from = time.time()
        xscreen.key("Return", self.screen, window=k.window())
        confirm_to = time.time()
        self.wait("offline was not called",
                  lambda: k.client()["offline_calls"] == offline_calls + 1, 3)
        self.qr(fill(PAY_QR_URL))
        k.control("pay")  # paid during the countdown: rule 6 still waits its time
        delay = self.timers["after_confirm_reboot_s"]
        reboot = self.reboot("rule6:", since, delay + STEP_S)
        if reboot is None:
            return
        # the trace's time is rounded to the millisecond
        self.rule6_waits.append(reboot["ts"] - confirm_from)
        if not confirm_from + delay - 0.001 <= reboot["ts"] <= confirm_to + delay + SLACK_S:
            self.violations.append(f"rule 6 {reboot['ts'] - confirm_from:.2f}s after the "
                                   f"confirm, not {delay}s")
        self.scene("A", "startup", since)

    def widget(self) -> tuple[int, int, int, int] | None:
        """The UI window's place once it has shrunk to the widget (None meanwhile)."""
        try:
            geometry = self.kiosk.geometry()
        except (xscreen.XScreenError, AssertionError):
            return None  # the window is being rebuilt
        return geometry if geometry[2] < SCREEN[0] else None

    def walk_away(self, since: int) -> None:
        b = self.touch(since)
        if b is None:
            return
        idle = self.timers["scan_idle_s"]
        a = self.scene("A", "rule1:idle", since, idle + STEP_S)
        if a is None:
            return
        waited = a["ts"] - b["ts"]
        self.rule1_waits.append(waited)
        if not idle - EARLY_S <= waited <= idle + SLACK_S:
            self.violations.append(f"rule 1 after {waited:.2f}s, not {idle}s")

    def long_session(self, seconds: float) -> None:
        """One customer in the widget for ``seconds``: the UI sampled in C from outside,
        then the phone ends the session and pays (rules 5 and 7) and the kiosk is on A."""
        since = self.kiosk.mark()
        if not (self.touch(since) and self.session(since)):
            return
        ui = self.kiosk.ui_pid()
        started = time.monotonic()
        while (at := time.monotonic() - started) < seconds:
            got = sample(ui)
            if got is None:
                self.violations.append("the UI in C went away during the long session")
                return
            self.in_session.append((at, got))
            time.sleep(SESSION_SAMPLE_S)
        self.kiosk.control("end")
        if self.reboot("rule5:", since) and self.scene("E", "startup", since):
            self.kiosk.control("pay")
            if self.reboot("rule7:", since):
                self.scene("A", "startup", since)
        if not self.violations:
            self.violations += cycle_violations("phone_end", self.kiosk.trace()[since:])

    def run_cycle(self, kind: str, outage: bool = False) -> None:
        since = self.kiosk.mark()
        before = len(self.violations)
        if outage and self.collector is not None:
            self.collector.stop()
            self.outages += 1
        getattr(self, kind)(since)
        if self.collector is not None:
            self.delivered(restart=outage)
        if len(self.violations) == before:
            self.violations += cycle_violations(kind, self.kiosk.trace()[since:])
        if len(self.violations) == before:
            self.completed[kind] += 1
        else:
            self.recover()

    def delivered(self, restart: bool) -> None:
        """Every remote-logged trace event so far is on the collector (after an outage,
        once it is back: the senders held them)."""
        collector = self.collector
        assert collector is not None
        if restart:
            collector.start()
        started = time.monotonic()

        def missing() -> Counter:
            return undelivered(self.kiosk.trace(), collector.messages())

        if self.wait("remote log: trace events missing on the collector",
                     lambda: not missing(), DELIVERY_S) is None:
            self.violations[-1] += f": {dict(missing())}"
        elif restart:
            self.delivery_waits.append(time.monotonic() - started)

    def recover(self) -> None:
        """After a violation, bring the kiosk back to A (the phone ends and pays)."""
        k = self.kiosk
        for _ in range(3):
            client = k.client()
            if client.get("status") == 2:
                k.control("end")
            if k.client().get("status") == 3:
                k.control("pay")
            time.sleep(self.timers["after_confirm_reboot_s"] + 3)
            scenes = [e for e in k.trace() if e.get("event") == "scene"]
            if scenes and scenes[-1]["scene"] == "A":
                return

    def measure(self, at: float) -> None:
        k = self.kiosk
        simulator = pids_with("--config", str(k.config_path), "--role", "simulator")
        self.pids = {"UI": k.ui_pid(), "guardian": k.proc.pid if k.proc else 0,
                     "simulator": simulator[0] if simulator else 0}
        for name, pid in self.pids.items():
            got = sample(pid)
            if got is not None:
                self.samples.setdefault(name, []).append((at, got))


def render(soak: Soak, minutes: float, wall_s: float, logs_start: dict[str, int],
           logs_end: dict[str, int], trace_bytes: int) -> str:
    total = sum(soak.completed.values())
    lines = [
        f"# Soak: {wall_s / 60:.1f} minutes of the real kiosk under Xvfb",
        "",
        f"`python main.py` (guardian, UI, embedded simulator) with the e2e timers "
        f"({', '.join(f'{k} {v:g}' for k, v in soak.timers.items())}) and reboot mode "
        f"simulate, cycling customers for {minutes:g} minutes.",
        "",
        "| | |",
        "|---|---|",
        f"| sessions completed (cycles without a fault) | {total} |",
        *[f"| … {kind.replace('_', ' ')} | {soak.completed[kind]} |" for kind in CYCLES],
        f"| rule violations | {len(soak.violations)} |",
        f"| QR codes decoded from screenshots | {soak.qr_checks} |",
        f"| rule 1: B → A (set {soak.timers['scan_idle_s']:g} s), min / max | "
        f"{spread(soak.rule1_waits)} |",
        f"| rule 6: Enter → reboot (set {soak.timers['after_confirm_reboot_s']:g} s), "
        f"min / max | {spread(soak.rule6_waits)} |",
        "",
        "## Processes, measured from outside (/proc), on page A after a cycle",
        "",
        f"The first sample is taken on A right after start-up, before the first session; "
        f"warm-up is the first {WARM_UP} cycles (one of each kind). Ranges are over every "
        "sample after warm-up.",
        "",
        "| process | RSS first → warm → end (MB) | RSS after warm-up (MB) | threads first "
        "→ warm → end (range after) | open fds first → warm → end (range after) |",
        "|---|---|---|---|---|",
    ]
    for name, series in soak.samples.items():
        first, warm, last = series[0][1], series[min(WARM_UP, len(series) - 1)][1], series[-1][1]
        after = [s for _, s in series[WARM_UP:]] or [last]
        lines.append(
            f"| {name} (pid {soak.pids.get(name)}) | {first.rss_kb / 1024:.1f} → "
            f"{warm.rss_kb / 1024:.1f} → {last.rss_kb / 1024:.1f} | "
            f"{min(s.rss_kb for s in after) / 1024:.1f}–{max(s.rss_kb for s in after) / 1024:.1f}"
            f" | {first.threads} → {warm.threads} → {last.threads} "
            f"({min(s.threads for s in after)}–{max(s.threads for s in after)}) | "
            f"{first.fds} → {warm.fds} → {last.fds} "
            f"({min(s.fds for s in after)}–{max(s.fds for s in after)}) |")
    grown = sum(logs_end.values()) - sum(logs_start.values())
    per_session = grown / max(1, total)
    cap = MAX_BYTES * (BACKUPS + 1)
    lines += [
        "",
        "## Logs",
        "",
        "- log files at the end: "
        + ", ".join(f"{name} {size / 1024:.1f} KB" for name, size in logs_end.items()),
        f"- grew {grown / 1024:.1f} KB during the soak, {per_session / 1024:.2f} KB per session;",
        f"  each log rotates at {MAX_BYTES // 2**20} MB and keeps {BACKUPS} old files, so it never "
        f"takes more than {cap / 2**20:.0f} MB (about {cap / max(1, per_session):,.0f} "
        f"sessions' worth before the oldest is dropped)",
        f"- the trace (`log.trace`, QA only, off in a venue) is {trace_bytes / 1024:.1f} KB",
    ]
    if soak.collector is not None:
        messages = soak.collector.messages()
        drops = [m for m in messages if m.msgid == "remote_dropped"]
        lines += [
            "",
            "## Remote log",
            "",
            f"- {soak.collector.url} (rsyslog), stopped for {soak.outages} of the cycles "
            f"(every {OUTAGE_EVERY}th) and started again after each",
            f"- {len(messages)} messages collected; every page change and reboot of the trace "
            f"among them, checked after each cycle",
            f"- collector back → everything held delivered: {spread(soak.delivery_waits)}",
            f"- drop reports: {len(drops)} (the queue holds 1000; none is expected)",
        ]
    if soak.violations:
        lines += ["", "## Violations", ""] + [f"- {v}" for v in soak.violations[:100]]
    return "\n".join(lines) + "\n"


def session_settled(series: list[tuple[float, Sample]]) -> list[tuple[float, Sample]]:
    """The long session's samples from SESSION_SETTLE_S into C (all, if it was shorter)."""
    settled = [(at, s) for at, s in series if at >= SESSION_SETTLE_S]
    return settled if len(settled) >= 2 else series


def slope_mb_per_hour(series: list[tuple[float, Sample]]) -> float:
    """The least-squares trend of RSS over the samples, in MB per hour."""
    if len(series) < 2:
        return 0.0
    times = [at for at, _ in series]
    sizes = [s.rss_kb / 1024 for _, s in series]
    mean_t, mean_m = sum(times) / len(times), sum(sizes) / len(sizes)
    spread_t = sum((t - mean_t) ** 2 for t in times)
    if spread_t == 0:
        return 0.0
    return 3600 * sum((t - mean_t) * (m - mean_m) for t, m in zip(times, sizes, strict=True)
                      ) / spread_t


def session_growth(series: list[tuple[float, Sample]]) -> list[str]:
    """The UI in the long session: RSS that grew by more than SESSION_GROWTH_MB, or
    threads or descriptors that grew at all, from SESSION_SETTLE_S into C to the end."""
    settled = session_settled(series)
    if len(settled) < 2:
        return []
    first, last = settled[0][1], settled[-1][1]
    problems = []
    grown_mb = (last.rss_kb - first.rss_kb) / 1024
    if grown_mb > SESSION_GROWTH_MB:
        problems.append(f"UI in C: RSS {first.rss_kb / 1024:.1f} → {last.rss_kb / 1024:.1f} MB "
                        f"(+{grown_mb:.1f} MB, over {SESSION_GROWTH_MB:g})")
    if last.threads > first.threads or last.fds > first.fds:
        problems.append(f"UI in C: threads {first.threads} → {last.threads}, "
                        f"fds {first.fds} → {last.fds}")
    return problems


def render_session(series: list[tuple[float, Sample]], minutes: float) -> list[str]:
    if not series:
        return []
    settled = session_settled(series)
    first, last = settled[0], settled[-1]
    sizes = [s.rss_kb / 1024 for _, s in settled]
    return [
        "",
        f"## A long session: the UI in C for {minutes:g} minutes",
        "",
        f"Sampled from outside every {SESSION_SAMPLE_S:g} s; judged from "
        f"{first[0]:.0f} s into C (the first sample: {series[0][1].rss_kb / 1024:.1f} MB).",
        "The soak itself has OpenCV loaded (it decodes the QR codes it reads off the screen),",
        "and the kernel pages out no page that another process maps too: OpenCV's code, about",
        "15 MB, stays resident in the UI here. `make bench` reads the UI in C without that.",
        "",
        "| | |",
        "|---|---|",
        f"| RSS at {first[0]:.0f} s → end ({last[0] / 60:.1f} min) | "
        f"{first[1].rss_kb / 1024:.1f} → {last[1].rss_kb / 1024:.1f} MB |",
        f"| RSS min / max | {min(sizes):.1f} / {max(sizes):.1f} MB |",
        f"| RSS trend (least squares) | {slope_mb_per_hour(settled):+.2f} MB per hour |",
        f"| threads, open fds at {first[0]:.0f} s → end | {first[1].threads} → "
        f"{last[1].threads}, {first[1].fds} → {last[1].fds} |",
    ]


def growth_problems(soak: Soak) -> list[str]:
    """Threads or descriptors that grew between the warmed-up sample and the end, and the
    UI's growth in the long session."""
    problems = session_growth(soak.in_session)
    for name, series in soak.samples.items():
        warm, last = series[min(WARM_UP, len(series) - 1)][1], series[-1][1]
        if last.threads > warm.threads or last.fds > warm.fds:
            problems.append(f"{name}: threads {warm.threads} → {last.threads}, "
                            f"fds {warm.fds} → {last.fds}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--session-minutes", type=float, default=0.0,
                        help="then one session kept in the widget this long (default none)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "soak.md")
    parser.add_argument("--work", type=Path, default=ROOT / "bench-out" / "soak-run",
                        help="config, logs and trace of the run (emptied first)")
    parser.add_argument("--remote", choices=("tcp", "udp", "off"), default="tcp",
                        help="the remote log to a real rsyslog, with outages (default tcp)")
    args = parser.parse_args(argv)
    missing = xscreen.missing_tools()
    if missing:
        parser.exit(2, f"soak needs {', '.join(missing)} (apt-get install xvfb xdotool "
                       "x11-apps)\n")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    collector = None
    if args.remote != "off" and rsyslogd() is None:
        print("rsyslogd not found: soaking without the remote log (apt-get install rsyslog)")
    elif args.remote != "off":
        collector = Collector(args.work / "rsyslog", args.remote).start()
    overrides = {"log": {"remote": collector.url}} if collector else {}
    with xscreen.VirtualScreen(*SCREEN) as screen:
        kiosk = start_kiosk(screen, args.work, overrides)
        try:
            soak = Soak(kiosk, screen, dict(kiosk.config["timers"]), collector=collector)
            soak.scene("A", "startup", 0, START_S)
            soak.measure(0.0)
            logs_start = log_bytes(Path(kiosk.config["log"]["dir"]))
            started = time.monotonic()
            deadline = started + args.minutes * 60
            n = 0
            while time.monotonic() < deadline:
                soak.run_cycle(CYCLES[n % len(CYCLES)], outage=n % OUTAGE_EVERY == 1)
                n += 1
                soak.measure(time.monotonic() - started)
                print(f"\r{n} cycles, {len(soak.violations)} violations, "
                      f"{(deadline - time.monotonic()) / 60:.1f} min left", end="", flush=True)
            print()
            if args.session_minutes > 0:
                print(f"one session in the widget for {args.session_minutes:g} minutes",
                      flush=True)
                soak.long_session(args.session_minutes * 60)
                soak.measure(time.monotonic() - started)
            wall = time.monotonic() - started
            logs_end = log_bytes(Path(kiosk.config["log"]["dir"]))
            trace_bytes = kiosk.trace_path.stat().st_size if kiosk.trace_path.exists() else 0
        finally:
            kiosk.stop()
            if collector is not None:
                collector.stop()
    text = render(soak, args.minutes, wall, logs_start, logs_end, trace_bytes)
    text += "\n".join(render_session(soak.in_session, args.session_minutes)) + "\n"
    growth = growth_problems(soak)
    if growth:
        text += "\n## Growth\n\n" + "\n".join(f"- {g}" for g in growth) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.out}")
    return 1 if soak.violations or growth else 0


if __name__ == "__main__":
    sys.exit(main())
