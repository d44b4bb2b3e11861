"""The bench's table: ratios against the same-run reference, targets, and the layout."""

from __future__ import annotations

import pytest

from bench.table import Figure, median, number, render


def test_ratio_is_the_figure_over_its_same_run_reference():
    figure = Figure("standby", 7.5, "ms", reference=6.0, reference_name="decode", target=1.3)
    assert figure.ratio == pytest.approx(1.25)
    assert figure.met is True


def test_target_is_missed_when_the_ratio_is_above_it():
    assert Figure("standby", 8.4, "ms", reference=6.0, target=1.3).met is False


def test_without_a_reference_the_target_bounds_the_value_itself():
    assert Figure("widget", 0.25, "% core", target=0.3).met is True
    assert Figure("widget", 0.35, "% core", target=0.3).met is False
    assert Figure("widget", 0.35, "% core").met is None


def test_frames_shown_must_reach_frames_due():
    shown = Figure("frames", 600, "frames", reference=600.4, target=0.995, higher_is_better=True)
    assert shown.met is True
    dropped = Figure("frames", 570, "frames", reference=600, target=0.995,
                     higher_is_better=True)
    assert dropped.met is False


def test_a_zero_reference_gives_an_infinite_ratio_not_a_crash():
    assert Figure("x", 3, "ms", reference=0).ratio == float("inf")
    assert Figure("x", 0, "ms", reference=0).ratio == 1.0


def test_numbers_keep_three_significant_digits_and_their_unit():
    assert number(6.2128, "ms") == "6.21 ms"
    assert number(0.0421, "% core") == "0.0421 % core"
    assert number(1234.6, "ms") == "1235 ms"
    assert number(None) == "–"


def test_median_of_an_even_count_is_the_middle_mean_and_empty_is_an_error():
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_table_has_one_row_per_figure_with_value_reference_ratio_target_and_verdict():
    table = render([
        Figure("standby CPU per shown frame", 7.8, "ms", 6.0, "decode only", 1.3,
               note="software decoding"),
        Figure("guardian peak RSS, absolute", 17.4, "MB", target=25),
        Figure("status answer → page C", 130.0, "ms", target=100),
    ], title="run 1")
    lines = table.splitlines()
    assert lines[0] == "### run 1"
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 3
    assert rows[0] == ("| standby CPU per shown frame (software decoding) | 7.8 ms "
                       "| 6 ms (decode only) | 1.30× | ≤ 1.3× | yes |")
    assert rows[1] == "| guardian peak RSS, absolute | 17.4 MB | – | – | ≤ 25 MB | yes |"
    assert rows[2].endswith("| ≤ 100 ms | **no** |")


def test_a_figure_is_judged_as_printed_not_by_floating_point_noise():
    ticks = 100 * ((100 + 9) / 100 - 100 / 100) / 30  # 9 ticks of 10 ms over 30 s
    assert ticks > 0.3  # 0.3000000000000002, from two /proc readings as the bench takes them
    assert Figure("widget", ticks, "% core", target=0.3).met is True
    assert Figure("widget", 0.3034, "% core", target=0.3).met is False  # shown as 0.303
