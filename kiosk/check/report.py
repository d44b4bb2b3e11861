"""What ``main.py check`` found, as lines an operator reads or JSON a fleet script reads.

Pure: results in, text out. Each line is ``✓ name: what was found`` or
``✗ name: what is wrong — what to do``.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

MARKS = ("✓", "✗", " — ")
PLAIN = ("[ok]", "[FAIL]", " - ")  # a console whose code page has no ✓ (GBK has none)


@dataclass(frozen=True)
class Found:
    """What a check found: whether it passed, what it saw, and what to do if not."""

    ok: bool
    detail: str
    fix: str = ""


def passed(detail: str) -> Found:
    return Found(True, detail)


def failed(detail: str, fix: str) -> Found:
    return Found(False, detail, fix)


@dataclass(frozen=True)
class Result:
    """One check: its name, whether it passed, what it found, and what to do if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def marks_for(encoding: str | None) -> tuple[str, str, str]:
    """✓ ✗ — if the output can show them, else plain text."""
    try:
        codecs.encode("".join(MARKS), encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return PLAIN
    return MARKS


def line(result: Result, marks: tuple[str, str, str] = MARKS) -> str:
    good, bad, dash = marks
    text = f"{good if result.ok else bad} {result.name}: {result.detail}"
    return f"{text}{dash}{result.fix}" if result.fix and not result.ok else text


def summary(results: Sequence[Result]) -> str:
    failed = sum(not r.ok for r in results)
    if not failed:
        return f"all {len(results)} checks passed"
    return f"{failed} of {len(results)} checks failed"


def lines(results: Sequence[Result], marks: tuple[str, str, str] = MARKS) -> list[str]:
    """One line per check, then the summary."""
    return [line(r, marks) for r in results] + [summary(results)]


def as_json(results: Sequence[Result]) -> str:
    """``{"ok": …, "checks": [{"name", "ok", "detail", "fix"}, …]}``, ASCII only, so any
    console code page carries it."""
    return json.dumps({"ok": exit_code(results) == 0, "summary": summary(results),
                       "checks": [asdict(r) for r in results]}, indent=2)


def exit_code(results: Sequence[Result]) -> int:
    """0 when every check passed, 1 otherwise."""
    return 0 if results and all(r.ok for r in results) else 1
