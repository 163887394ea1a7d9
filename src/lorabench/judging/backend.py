"""What a judge backend is: prompts in, completions out, and an identity the cache is keyed by.

Two implementations: `local.LocalJudge` (a model lorabench loads, through its `hf` or `vllm`
inference backend) and `endpoint.EndpointJudge` (an OpenAI-compatible server). A new way to reach
a judge is one module with this shape and one branch in `open_backend`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from lorabench.config.judge import JudgeSettings
from lorabench.judging.cache import Completion, JudgePrompt
from lorabench.models.load import resolve_source


class JudgeBackend(Protocol):
    @property
    def identity(self) -> str:
        """What the cache key calls this judge: model, weights, engine, decoding budget."""
        ...

    def complete(self, prompts: Sequence[JudgePrompt]) -> Iterator[tuple[str, Completion]]:
        """Greedy completions, yielded (key, completion) as each finishes, in any order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Plain values for the run's record (never a secret)."""
        ...


def open_backend(settings: JudgeSettings, cache_dir: str | None = None, check: bool = False) -> JudgeBackend:
    """The judge `settings` name, its model's name or file resolved; nothing is loaded or asked (a
    local model loads once a prompt needs it). `check`: an endpoint's client and key variable are
    checked now, as a run does before any work, rather than at its first request."""
    if settings.is_endpoint:
        from lorabench.judging.endpoint import EndpointJudge, check_endpoint

        if check:
            check_endpoint(settings)
        return EndpointJudge(settings)
    from lorabench.judging.local import LocalJudge

    return LocalJudge(settings, resolve_source(settings.model, cache_dir, settings.revision), cache_dir)
