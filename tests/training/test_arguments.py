"""Training arguments: how often a run logs."""

from __future__ import annotations

from lorabench.training.arguments import effective_logging_steps


def test_effective_logging_steps():
    assert effective_logging_steps(5, 8) == 1
    assert effective_logging_steps(5, 60) == 3
    assert effective_logging_steps(5, 10_000) == 5
