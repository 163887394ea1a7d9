"""Progress bars: a stage found finished on disk says so instead of showing this session's clock."""

from __future__ import annotations

import time

from rich.console import Console

from lorabench.cli.live import progress_bars


def _rendered(bars) -> str:  # noqa: ANN001
    console = Console(record=True, width=120)
    console.print(bars.make_tasks_table(bars.tasks))
    return console.export_text()


def test_a_reused_stage_shows_reused_not_the_time_spent_here():
    bars, factory = progress_bars(Console(record=True, width=120))
    factory("eval base", 8, 8)
    factory("eval tuned", 8, 8, recorded_seconds=12.4)
    partly = factory("eval epochs/epoch_1", 8, 3)
    fresh = factory("eval other", 4, 0)
    time.sleep(1.1)  # a clock that kept running for the reused bars would now show 0:00:01
    partly(5)
    fresh(1)
    lines = {line.split("━")[0].strip(): line for line in _rendered(bars).splitlines() if "━" in line}
    assert set(lines) == {"eval base", "eval tuned", "eval epochs/epoch_1 (3 reused)", "eval other"}
    assert lines["eval base"].rstrip().endswith("8/8 reused")
    assert lines["eval tuned"].rstrip().endswith("8/8 reused (12 s)")
    assert "8/8 0:00:01" in lines["eval epochs/epoch_1 (3 reused)"]  # resumed: this session's time for the rest
    assert "1/4 0:00:01" in lines["eval other"] and "reused" not in lines["eval other"]
