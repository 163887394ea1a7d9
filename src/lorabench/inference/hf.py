"""The `hf` backend: a transformers model in this process.

It is a thin adapter over the HF engines beside it in lorabench.inference: `continuous.generate` (continuous batching
over a slot cache, for the causal models it supports) or else `generate.generate` (length-sorted
padded batches, the shared-prefix KV reuse of `prefix`), `choice.score_options` (one prompt pass
shared by every option) and `choice.score_letters`. Those modules stay where they are; this file only
turns requests into their calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from lorabench.inference.base import (
    Backend,
    Generation,
    GenerationRequest,
    LetterRequest,
    LetterScores,
    OptionRequest,
    OptionScores,
    Progress,
)
from lorabench.inference import choice, continuous
from lorabench.inference.generate import GenerationSettings, generate
from lorabench.models.load import LoadedModel
from lorabench.prompts.build import Prompt


class HFBackend(Backend):
    name = "hf"

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.is_seq2seq = loaded.is_seq2seq

    @property
    def model(self) -> Any:
        return self.loaded.model

    @property
    def config(self) -> Any:  # type: ignore[override]
        # Read through the model: training hands in a PEFT wrapper whose config is its base's.
        return getattr(self.loaded.model, "config", None)

    def generate(
        self, requests: Sequence[GenerationRequest], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Generation]:
        """One generation pass per distinct (max_new_tokens, stop strings), in first-seen order:
        a pass orders its prompts by shared prefix (or length) across all of them."""
        passes: dict[tuple[int, tuple[str, ...]], list[Prompt]] = {}
        for request in requests:
            passes.setdefault((request.max_new_tokens, request.stop_strings), []).append(request.prompt)
        slots = not self.is_seq2seq and continuous.supported(self.model)
        for (max_new_tokens, stop_strings), prompts in passes.items():
            settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, stop_strings=stop_strings)
            if slots:
                yield from continuous.generate(self.model, self.tokenizer, prompts, settings, progress)
            else:
                yield from generate(self.model, self.tokenizer, prompts, settings, self.is_seq2seq, progress)

    def score_options(self, requests: Sequence[OptionRequest]) -> list[OptionScores]:
        return [
            choice.score_options(
                self.model, self.tokenizer, r.prompt, list(r.continuations), list(r.labels), self.is_seq2seq
            )
            for r in requests
        ]

    def score_letters(self, requests: Sequence[LetterRequest]) -> list[LetterScores]:
        return [
            LetterScores(
                r.record_id, choice.score_letters(self.model, self.tokenizer, r.prompt, list(r.labels), self.is_seq2seq)
            )
            for r in requests
        ]
