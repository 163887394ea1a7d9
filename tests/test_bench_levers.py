"""bench/levers.py: the break-even arithmetic and the tables (pure), and a short run end to end on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import levers
from bench.levers import SlotRun, StepRun, break_even_steps, slot_rows, step_rows


def _run(variant: str, seconds: tuple[float, ...], losses: tuple[float, ...] = (2.0, 1.5, 1.4)) -> StepRun:
    return StepRun(variant, "float32", seconds, losses, tokens=6000)


def test_a_compile_pays_off_after_its_extra_first_step_divided_by_the_saving_per_step() -> None:
    eager = _run("eager", (15.0, 10.0, 10.0))
    compiled = _run("compile-cold", (455.0, 7.5, 7.5))
    assert break_even_steps(eager, compiled) == pytest.approx(440.0 / 2.5)
    assert break_even_steps(eager, _run("no-dropout", (12.0, 6.0, 6.0))) == 0.0  # faster from the first step
    assert break_even_steps(eager, _run("compile-warm", (60.0, 10.5, 10.5))) is None  # later steps no faster


def test_the_step_table_says_speed_up_loss_agreement_and_break_even() -> None:
    eager = _run("eager", (15.0, 10.0, 9.0, 11.0))
    compiled = _run("compile-cold", (455.0, 7.0, 8.0, 7.5), losses=(2.0, 1.5, 1.41))
    rows = step_rows([eager, compiled])
    assert rows[0] == {
        "variant": "eager (today)", "first step s": "15.0", "later steps s (median)": "10.00",
        "later steps vs eager": "1.00x", "max |loss - eager's|": "identical", "pays off after": "",
    }
    assert rows[1]["later steps s (median)"] == "7.50" and rows[1]["later steps vs eager"] == "1.33x"
    assert rows[1]["max |loss - eager's|"] == "1.0e-02" and rows[1]["pays off after"] == "176 steps"


def test_the_slot_table_compares_time_and_answers_with_the_first_slot_count() -> None:
    runs = [SlotRun("float32", 16, 22.0, ("a", "b", "c", "d")), SlotRun("float32", 64, 18.0, ("a", "b", "x", "d"))]
    assert slot_rows(runs) == [
        {"slots": "16", "seconds": "22.0", "vs 16 slots": "1.00x", "identical answers": "4/4"},
        {"slots": "64", "seconds": "18.0", "vs 16 slots": "1.22x", "identical answers": "3/4"},
    ]


def test_a_short_run_measures_steps_and_slots_in_fresh_processes(tiny_causal_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "levers.json"
    assert levers.main(["--cases", "step,slots", "--dtype", "float32", "--steps", "1", "--variants", "eager,no-dropout",
                        "--slots", "2,4", "--model", str(tiny_causal_path), "--threads", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    eager, undropped = report["step float32"]
    assert eager["variant"] == "eager" and undropped["variant"] == "no-dropout"
    assert len(eager["seconds"]) == len(eager["losses"]) == 2 and all(s > 0 for s in eager["seconds"])
    # Same seed and batches; LoRA's B starts at zero, so the masks show from the second step's loss on.
    assert eager["losses"][0] == undropped["losses"][0] and eager["losses"][1] != undropped["losses"][1]
    two, four = report["slots float32"]
    assert (two["slots"], four["slots"]) == (2, 4) and len(two["answers"]) == 100
    printed = capsys.readouterr().out
    assert "one LoRA training step in float32" in printed and "no LoRA dropout" in printed and "vs 2 slots" in printed
