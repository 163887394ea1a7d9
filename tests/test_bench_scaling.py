"""bench/scaling.py: the exponent fit and the table (pure), and one quick case end to end on a tiny model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import scaling
from bench.scaling import Growth, Measurement, fit, growth_exponent, study_config, table_rows


def test_the_exponent_of_a_power_law_is_recovered() -> None:
    sizes = [100, 400, 1600]
    assert growth_exponent(sizes, [2.0 * n for n in sizes]) == pytest.approx(1.0)
    assert growth_exponent(sizes, [0.01 * n**2 for n in sizes]) == pytest.approx(2.0)
    assert growth_exponent([200, 800], [10.0, 10.0]) == pytest.approx(0.0)


def test_the_exponent_is_the_least_squares_slope_of_noisy_points() -> None:
    # log-log points (0, 0), (1, 1.2), (2, 1.8) in base e: slope = sum(dx dy) / sum(dx^2) = 1.8 / 2
    sizes = [1, math.e, math.e**2]
    seconds = [1.0, math.exp(1.2), math.exp(1.8)]
    assert growth_exponent(sizes, seconds) == pytest.approx(0.9)


@pytest.mark.parametrize(("sizes", "seconds"), [([100], [1.0]), ([100, 100], [1.0, 2.0]), ([0, 10], [1.0, 2.0]), ([1, 2], [1.0])])
def test_an_exponent_that_cannot_be_fitted_is_refused(sizes: list[int], seconds: list[float]) -> None:
    with pytest.raises(ValueError):
        growth_exponent(sizes, seconds)


def test_the_table_shows_sizes_times_exponent_memory_and_the_squad_extrapolation() -> None:
    measured = [Measurement("gen", n, n / 10, 800.0 + n / 100, n / 10 + 5) for n in (1600, 100, 400)]
    growth = fit("gen", measured)
    assert growth.sizes == (100, 400, 1600) and growth.exponent == pytest.approx(1.0)
    (row,) = table_rows([growth])
    assert row == {
        "case": "gen",
        "sizes": "100 / 400 / 1,600 items",
        "seconds": "10.0 / 40.0 / 160.0",
        "k (time ~ n^k)": "1.00",
        "peak RSS MiB": "801 / 804 / 816",
        "extrapolated": "18 min at 10,570 (SQuAD v1.1 dev)",  # 160 s x 10570 / 1600 = 1057 s
    }
    study = table_rows([Growth("study", (1, 2, 4), (5.0, 10.0, 20.0), (700.0, 700.0, 710.0), 1.0)])[0]
    assert study["sizes"] == "1 / 2 / 4 cells" and study["extrapolated"] == ""


def test_the_study_varies_only_its_cells(tmp_path: Path) -> None:
    one, four = (study_config(n, "m", "float32", tmp_path / "qa.jsonl", tmp_path / "out", "quick") for n in (1, 4))
    assert one["sweep"] == {"seeds": [0]} and four["sweep"] == {"seeds": [0, 1, 2, 3]}
    assert {k: v for k, v in one.items() if k != "sweep"} == {k: v for k, v in four.items() if k != "sweep"}


def test_quick_multiple_choice_runs_end_to_end_in_fresh_processes(tiny_causal_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "scaling.json"
    assert scaling.main(["--sizes", "quick", "--cases", "mc", "--model", str(tiny_causal_path), "--threads", "1",
                         "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    measured = report["measurements"]
    assert [(m["case"], m["size"]) for m in measured] == [("mc", 4), ("mc", 8)]
    # Each child's own peak: a Python process with torch and a model holds well over 100 MiB.
    assert all(m["seconds"] > 0 and 100 < m["peak_rss_mib"] < 8000 and m["process_seconds"] > m["seconds"] for m in measured)
    (growth,) = report["growth"]
    assert growth["sizes"] == [4, 8] and math.isfinite(growth["exponent"])
    printed = capsys.readouterr().out
    assert "quick sizes: a smoke run" in printed and "4 / 8 items" in printed
