"""The bench's one table: each figure beside its same-run reference, their ratio and the target.

Pure code (no measuring here), so the arithmetic and the layout are unit-tested.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``reference`` is what it is compared with in the same run.

    ``target`` bounds the ratio when there is a reference, else the value itself;
    ``higher_is_better`` flips the comparison (frames shown ÷ frames due).
    """

    name: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference is None:
            return None
        if self.reference == 0:
            return float("inf") if self.value else 1.0
        return self.value / self.reference

    @property
    def judged(self) -> float:
        """What the target applies to: the ratio when there is a reference."""
        ratio = self.ratio
        return self.value if ratio is None else ratio

    @property
    def met(self) -> bool | None:
        """Judged as printed (three significant figures): 9 ticks of /proc's 10 ms over
        30 s are 0.30000000000000004 % in floating point, shown and meant as 0.3 %."""
        if self.target is None:
            return None
        judged = float(f"{self.judged:.3g}")
        if self.higher_is_better:
            return judged >= self.target
        return judged <= self.target


def median(samples: Iterable[float]) -> float:
    values = list(samples)
    if not values:
        raise ValueError("no samples to take the median of")
    return statistics.median(values)


def number(value: float | None, unit: str = "") -> str:
    """A figure with three significant digits and its unit, ``–`` when absent."""
    if value is None:
        return "–"
    if value == float("inf"):
        return "∞"
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return f"{text} {unit}".strip()


def render(figures: Sequence[Figure], title: str = "") -> str:
    """A Markdown table: figure, value, reference, ratio, target and whether it is met."""
    lines = [f"### {title}", ""] if title else []
    lines += ["| figure | value | reference (same run) | ratio | target | met |",
              "|---|---|---|---|---|---|"]
    for f in figures:
        reference = (f"{number(f.reference, f.unit)} ({f.reference_name})"
                     if f.reference is not None else "–")
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "–"
        if f.target is None:
            target = "–"
        else:
            bound = "≥" if f.higher_is_better else "≤"
            target = f"{bound} {f.target:g}{'×' if f.reference is not None else ' ' + f.unit}"
        met = {None: "–", True: "yes", False: "**no**"}[f.met]
        name = f"{f.name} ({f.note})" if f.note else f.name
        lines.append(f"| {name} | {number(f.value, f.unit)} | {reference} | {ratio} | {target} "
                     f"| {met} |")
    return "\n".join(lines) + "\n"
