import json

from rich.console import Console

from lorabench.data.records import ExtractiveRecord
from lorabench.demo import lexical_baseline, run_demo


def test_lexical_baseline_picks_the_missing_name():
    record = ExtractiveRecord(
        id="1",
        context="Velka Gormiris founded the Thovalis Company in 1821. The rival of Velka was Draess Zenik.",
        question="Who was the rival of Velka Gormiris?",
        answers=["Draess Zenik"],
    )
    assert lexical_baseline(record) == "Draess Zenik"


def test_demo_writes_a_scored_run_folder(tmp_path):
    out = run_demo(tmp_path / "demo", Console(record=True, width=120), n=120)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == sum(1 for _ in (out / "test.jsonl").open())
    assert 0.0 < metrics["exact_match"] < 1.0
