"""The `hf` backend: a transformers model in this process.

It is a thin adapter over the HF engines beside it in lorabench.inference: `continuous.generate` (continuous batching
over a slot cache, for the causal models it supports) or else `generate.generate` (length-sorted
padded batches, the shared-prefix KV reuse of `prefix`), `choice.score_options` (one prompt pass
shared by every option) and `choice.score_letters`. This file only turns requests into their calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from lorabench.inference.base import (
    ENGINES,
    Backend,
    EnginePass,
    Generation,
    GenerationRequest,
    LetterRequest,
    LetterScores,
    OptionRequest,
    OptionScores,
    Progress,
)
from lorabench.core.errors import LorabenchError
from lorabench.inference import choice, continuous
from lorabench.inference.generate import GenerationSettings, generate
from lorabench.models.load import LoadedModel
from lorabench.prompts.build import Prompt

logger = logging.getLogger(__name__)


class HFBackend(Backend):
    name = "hf"

    def __init__(self, loaded: LoadedModel, engine: str = "auto") -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.is_seq2seq = loaded.is_seq2seq
        self.engine = "auto"
        self.use_engine(engine)
        self.passes: list[EnginePass] = []
        self.warned = False

    @property
    def model(self) -> Any:
        return self.loaded.model

    @property
    def config(self) -> Any:  # type: ignore[override]
        # Read through the model: training hands in a PEFT wrapper whose config is its base's.
        return getattr(self.loaded.model, "config", None)

    def use_engine(self, engine: str) -> None:
        if engine not in ENGINES:
            raise LorabenchError(f"decoding.engine '{engine}': use one of {', '.join(ENGINES)}")
        self.engine = engine

    def engine_passes(self) -> list[EnginePass]:
        return list(self.passes)

    def _engine(self) -> tuple[str, str | None]:
        """The engine a pass starts on, and why it is not the continuous one."""
        if self.is_seq2seq:
            return "padded", "encoder-decoder model"
        if self.engine == "padded":
            return "padded", "decoding.engine: padded"
        unsupported = continuous.unsupported_reason(self.model)
        if unsupported is None:
            return "continuous", None
        if self.engine == "continuous":
            if not self.warned:  # once per backend, not once per pass (sequential questions run many)
                logger.warning("decoding.engine is continuous but this model cannot use it (%s); generating in padded "
                               "batches", unsupported)
                self.warned = True
            return "padded", f"decoding.engine continuous asked, but: {unsupported}"
        return "padded", unsupported

    def generate(
        self, requests: Sequence[GenerationRequest], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Generation]:
        """One generation pass per distinct (max_new_tokens, stop strings), in first-seen order:
        a pass orders its prompts by shared prefix (or length) across all of them. Each pass is
        recorded (`engine_passes`) once it is done."""
        passes: dict[tuple[int, tuple[str, ...]], list[Prompt]] = {}
        for request in requests:
            passes.setdefault((request.max_new_tokens, request.stop_strings), []).append(request.prompt)
        for (max_new_tokens, stop_strings), prompts in passes.items():
            settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, stop_strings=stop_strings)
            engine, reason = self._engine()
            if engine == "continuous":
                fallback: list[str] = []
                yield from continuous.generate(self.model, self.tokenizer, prompts, settings, progress, fallback.append)
                if fallback:
                    engine, reason = "padded", f"fell back from continuous: {fallback[0]}"
            else:
                yield from generate(self.model, self.tokenizer, prompts, settings, self.is_seq2seq, progress)
            self.passes.append(EnginePass(engine, len(prompts), reason))

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
