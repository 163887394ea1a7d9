"""A judge that answers by rule, in process: for tests of what is built on a JudgeResult (tables,
sentences, reports), whose real backends are tested in test_local.py and test_endpoint.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lorabench.config.judge import JudgeSettings
from lorabench.judging.answers import judge_answers
from lorabench.judging.cache import Completion
from lorabench.judging.items import JudgeItem
from lorabench.results import JudgeResult
from tests.judging.judge_server import verdict_for


class ScriptedJudge:
    identity = "scripted"

    def __init__(self, biased: bool = False, mute_gold: bool = False) -> None:
        self.biased, self.mute_gold = biased, mute_gold

    def complete(self, prompts: Sequence[tuple[str, str]]) -> Iterator[tuple[str, Completion]]:
        for key, prompt in prompts:
            text = verdict_for(prompt, self.biased)
            if self.mute_gold and "Answer to grade: Author" in prompt:
                text = "The answer is about an author."  # no verdict: unparseable
            yield key, Completion(text, len(prompt.split()), len(text.split()), 0.01)

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "model": "scripted-judge", "backend": "hf", "max_new_tokens": 8, "decoding": "greedy"}


def items(n: int = 10, tuned_right: int = 8, base_right: int = 2) -> list[JudgeItem]:
    return [
        JudgeItem(f"item-{i}", f"Who wrote play {i}?", f"Author {i}",
                  {"base": f"Author {i}" if i < base_right else f"Nobody {i}",
                   "tuned": f"It was Author {i}." if i < tuned_right else f"Somebody {i}"},
                  {"base": float(i < base_right), "tuned": 0.0})
        for i in range(n)
    ]


def scripted_result(tmp: Path, n: int = 10, out: Path | None = None, **judge: Any) -> JudgeResult:
    settings = JudgeSettings(model="scripted-judge", cache=str(tmp / "scripted_cache.jsonl"))
    return judge_answers(items(n), ["base", "tuned"], settings, out=out, backend=ScriptedJudge(**judge))
