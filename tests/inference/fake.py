"""A backend with no model: answers come from dicts, and every request it got is kept for asserts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import SimpleNamespace
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


class FakeBackend(Backend):
    """Deterministic answers by record id: `texts` for generation (default ""), `options` for option
    log-probs and `letters` for letter log-probs (default 0.0 each: the first label wins a tie).

    A real tokenizer is still needed, because the runner builds prompts with it. `window` plays the
    model's context length (None: no limit).
    """

    name = "fake"

    def __init__(
        self,
        tokenizer: Any,
        texts: dict[str, str] | None = None,
        options: dict[str, list[float]] | None = None,
        letters: dict[str, dict[str, float]] | None = None,
        window: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.config = SimpleNamespace(max_position_embeddings=window)
        self.is_seq2seq = False
        self.texts = texts or {}
        self.options = options or {}
        self.letters = letters or {}
        self.generation_requests: list[GenerationRequest] = []
        self.option_requests: list[OptionRequest] = []
        self.letter_requests: list[LetterRequest] = []

    def generate(
        self, requests: Sequence[GenerationRequest], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Generation]:
        for start in range(0, len(requests), batch_size):
            batch = list(requests[start : start + batch_size])
            self.generation_requests.extend(batch)
            if progress is not None:
                progress(len(batch))
            for request in batch:
                text = self.texts.get(request.record_id, "")
                n_tokens = min(len(text.split()) + 1, request.max_new_tokens)  # the words and an EOS
                yield Generation(request.record_id, text, request.prompt.n_tokens, n_tokens, 0.0, False, "eos")

    def score_options(self, requests: Sequence[OptionRequest]) -> list[OptionScores]:
        self.option_requests.extend(requests)
        return [
            OptionScores(
                record_id=r.record_id,
                labels=list(r.labels),
                sum_logprob=self.options.get(r.record_id, [0.0] * len(r.labels)),
                n_tokens=[len(text.split()) for text in r.continuations],
                n_chars=[len(text) for text in r.continuations],
            )
            for r in requests
        ]

    def score_letters(self, requests: Sequence[LetterRequest]) -> list[LetterScores]:
        self.letter_requests.extend(requests)
        return [LetterScores(r.record_id, self.letters.get(r.record_id, dict.fromkeys(r.labels, 0.0))) for r in requests]
