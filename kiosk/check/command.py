"""``python main.py check [--config PATH] [--json]``: is this PC set up right for customers?

One line per check (kiosk/check/checks.py), ✓ or ✗ with what to do; exit code 0 when
all pass, 1 otherwise. It runs beside a running kiosk and leaves it alone: no window,
no keyboard hook, not the kiosk's lock, no log file, no call that changes the server.
With ``server.base_url: embedded`` it asks the simulator of the kiosk that runs (on
``simulator.port``), or, when none answers there, one it starts for itself and stops.
The checks run side by side, so a backend that does not answer costs one timeout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk import config, console, identity
from kiosk.check.checks import CHECKS, Context, Found
from kiosk.check.report import Result, as_json, exit_code, lines, marks_for

log = logging.getLogger(__name__)

Check = tuple[str, Callable[[Context], Found | None]]


def within_s(cfg: config.Config) -> float:
    """How long the checks may take in all: a download's limit, its connect, a margin."""
    return max(10.0, 2 * cfg.timeout_s + 6)


def run(checks: Sequence[Check], ctx: Context, limit_s: float) -> list[Result]:
    """Every check at once, each on a thread of its own; one that has not answered within
    ``limit_s`` (a resolver that hangs, say) or that fails is a ✗ line, never a traceback."""
    found: dict[int, Found | None] = {}

    def one(i: int, check: Callable[[Context], Found | None]) -> None:
        try:
            found[i] = check(ctx)
        except Exception as exc:  # noqa: BLE001 (a bug in one check is that check's ✗)
            found[i] = Found(False, f"the check itself failed ({type(exc).__name__}: {exc})",
                             "report this to the kiosk's developers")

    threads = [threading.Thread(target=one, args=(i, check), daemon=True, name=name)
               for i, (name, check) in enumerate(checks)]
    for thread in threads:
        thread.start()
    deadline = threading.Event()
    timer = threading.Timer(limit_s, deadline.set)
    timer.start()
    for thread in threads:
        while thread.is_alive() and not deadline.is_set():
            thread.join(0.05)
    timer.cancel()
    results = []
    for i, (name, _) in enumerate(checks):
        if i not in found:
            results.append(Result(name, False, f"no answer within {limit_s:g} s",
                                  "check the network (a name that does not resolve?)"))
        elif found[i] is not None:
            results.append(Result(name, found[i].ok, found[i].detail, found[i].fix))
    return results


class _Kept(logging.Handler):
    """Keeps the config's own warnings (unknown keys) for the config line; the rest of
    the kiosk's logging has nothing to add to the lines and stays quiet."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == config.__name__:
            self.lines.append(record.getMessage())


def server(cfg: config.Config) -> tuple[str, str, Callable[[], None]]:
    """Where the calls go, how it was found, and what stops it afterwards."""
    if not cfg.embedded:
        return cfg.base_url, "", lambda: None
    from kiosk.simulator.embedded import answers_at

    url = f"http://127.0.0.1:{cfg.simulator.port}"
    if answers_at(url):
        return url, " (the running kiosk's embedded simulator)", lambda: None
    from kiosk.simulator.server import Simulator

    sim = cfg.simulator
    simulator = Simulator(rate_per_min=sim.rate_per_min, report_timeout_s=sim.report_timeout_s,
                          files_dir=sim.files_dir, service_num=sim.service_num)
    url = simulator.start("127.0.0.1", 0)
    return url, " (an embedded simulator of the check's own: no kiosk runs)", simulator.stop


def show(results: list[Result], as_text: bool) -> None:
    if not as_text:
        print(as_json(results))
        return
    console.make_safe()  # a Chinese name on a Western console (main.py did it already)
    for text in lines(results, marks_for(getattr(sys.stdout, "encoding", None))):
        print(text)


def main(argv: list[str], *, default_config: Path, prog: str = "main.py",
         install_hint: str = "python main.py install") -> int:
    parser = argparse.ArgumentParser(
        prog=f"{prog} check", description="Check that this PC is set up right for customers: "
        "one line per check, exit code 0 when all pass. Changes nothing, and leaves a running "
        "kiosk alone.")
    parser.add_argument("--config", type=Path, default=default_config,
                        help="the config file to check (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    args = parser.parse_args(argv)
    root = logging.getLogger()
    kept = _Kept()
    root.handlers, root.level = [kept], logging.WARNING
    try:
        cfg = config.load(args.config)
    except config.ConfigError as exc:
        show([Result("config", False, str(exc).rstrip("."), "fix it, then check again")],
             not args.json)
        return 1
    from kiosk.platform.machine import this_machine

    try:
        found: identity.Identity | identity.Unregistered | config.ConfigError = (
            identity.resolve(cfg, this_machine))
    except config.ConfigError as exc:
        found = exc
    url, note, stop = server(cfg)
    try:
        # A check still downloading past the limit may hold a file in there.
        with tempfile.TemporaryDirectory(prefix="kiosk-check-",
                                         ignore_cleanup_errors=True) as folder:
            ctx = Context(cfg, found, url, note, Path(folder), list(kept.lines),
                          install_hint=install_hint)
            ctx.display()  # SDL wants its video on the main thread
            results = run(CHECKS, ctx, within_s(cfg))
    finally:
        stop()
    show(results, not args.json)
    return exit_code(results)
