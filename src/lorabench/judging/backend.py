"""What a judge backend is: prompts in, completions out, and an identity the cache is keyed by.

Two implementations: `local.LocalJudge` (a model lorabench loads, through its `hf` or `vllm`
inference backend) and `endpoint.EndpointJudge` (an OpenAI-compatible server). A new way to reach
a judge is one module with this shape and one branch in `lorabench.judging.open_backend`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from lorabench.judging.cache import Completion

JudgePrompt = tuple[str, str]  # (a key naming the judgment, the rendered rubric)


class JudgeBackend(Protocol):
    identity: str  # what the cache key calls this judge: model, weights, engine, decoding budget

    def complete(self, prompts: Sequence[JudgePrompt]) -> Iterator[tuple[str, Completion]]:
        """Greedy completions, yielded (key, completion) as each finishes, in any order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Plain values for the run's record (never a secret)."""
        ...
