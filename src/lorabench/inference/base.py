"""What an evaluation backend is: requests in, typed results out (lm-evaluation-harness's `LM`).

A backend answers three kinds of request, each a small frozen dataclass around an already built
`Prompt` (prompts.py decides the text, the backend only runs it):

- `GenerationRequest` -> `Generation`: greedy continuation up to a token budget or a stop string;
- `OptionRequest` -> `OptionScores`: log P(option | prompt) for each option of a multiple-choice item;
- `LetterRequest` -> `LetterScores`: log P(label | prompt) of each option's label as the next token.

Every backend must give the tokens `prompts.encode_prompt` gives, so a model is evaluated on the
tokens it was trained on whichever engine runs it. Nothing here imports torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from lorabench.data.records import Record
from lorabench.core.kinds import get_task
from lorabench.core.errors import LorabenchError
from lorabench.prompts.build import Prompt, encode_target, model_context_length

Progress = Callable[[int], None]
NORMALIZATIONS = ("sum", "mean", "char")
# decoding.engine: how the hf backend generates. 'auto' takes continuous batching where the model
# supports it (inference/continuous.py), 'padded' always the length-sorted padded batches.
ENGINES = ("auto", "continuous", "padded")


@dataclass(frozen=True)
class EnginePass:
    """One generation pass: the engine that generated its items and, when that is not the one
    asked for or the continuous one, why."""

    engine: str  # "continuous", "padded", or a backend's own engine
    items: int
    reason: str | None = None


def engines_used(passes: Sequence[EnginePass]) -> list[dict[str, Any]]:
    """Items per engine and reason, in first-seen order: what a run folder records (the same
    whether one process or several generated them)."""
    summary: dict[tuple[str, str | None], dict[str, Any]] = {}
    for one in passes:
        entry = summary.setdefault((one.engine, one.reason), {"engine": one.engine, "items": 0})
        entry["items"] += one.items
        if one.reason is not None:
            entry["reason"] = one.reason
    return list(summary.values())


@dataclass(frozen=True)
class GenerationRequest:
    prompt: Prompt
    max_new_tokens: int
    stop_strings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if any(not stop for stop in self.stop_strings):
            raise ValueError("stop_strings must not contain an empty string")

    @property
    def record_id(self) -> str:
        return self.prompt.record_id


@dataclass(frozen=True)
class Generation:
    record_id: str
    text: str  # decoded continuation, special tokens skipped, NOT yet cut at stop strings
    prompt_tokens: int
    generated_tokens: int  # up to and including the stop (EOS / stop string), excluding padding
    latency_s: float  # this item's share of the wall time of the batch (or forwards) it took part in
    hit_max_new_tokens: bool  # generation ended because of max_new_tokens (answer possibly cut)
    stop_reason: str  # "eos" | "stop_string" | "max_new_tokens"


@dataclass(frozen=True)
class OptionRequest:
    """Score each continuation (an option's text as it would follow the prompt) under its label."""

    prompt: Prompt
    continuations: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def record_id(self) -> str:
        return self.prompt.record_id


def option_continuations(record: Record, prompt: Prompt) -> list[str]:
    """The option texts of `record` (of a kind that has options) as they would follow `prompt`."""
    if prompt.record_id != record.id:
        raise LorabenchError(f"record {record.id}: the prompt was built for record {prompt.record_id}")
    return continuations(get_task(record.task).options(record) or ())


def continuations(options: Sequence[str]) -> list[str]:
    """Option texts as they would follow the prompt.

    Whitespace is stripped because `encode_target` adds the separating space itself in plain
    mode (and a chat answer starts right after the assistant header).
    """
    return [text.strip() for text in options]


def encode_options(
    record_id: str, continuations: list[str], labels: list[str], tokenizer: Any, chat: bool
) -> list[list[int]]:
    """Token ids of each option as training encodes an answer (`encode_target`); blank options refused."""
    if len(continuations) != len(labels):
        raise LorabenchError(f"record {record_id}: {len(continuations)} options but {len(labels)} labels")
    encoded = [encode_target(text, tokenizer, chat) for text in continuations]
    for label, text, ids in zip(labels, continuations, encoded):
        # A blank option would score only the separating space in plain mode: reject it there too.
        if not ids or not text.strip():
            raise LorabenchError(f"record {record_id}: option {label} is empty (no tokens to score)")
    return encoded


@dataclass(frozen=True)
class OptionScores:
    """Log-probabilities of each option given the prompt, with the lengths to normalize them by."""

    record_id: str
    labels: list[str]
    sum_logprob: list[float]
    n_tokens: list[int]
    n_chars: list[int]

    @property
    def mean_logprob(self) -> list[float]:
        """Per token: removes the bias of `sum` towards options that tokenize short."""
        return [s / n for s, n in zip(self.sum_logprob, self.n_tokens)]

    @property
    def char_logprob(self) -> list[float]:
        """Per character: independent of the tokenizer (lm-eval-harness's `acc_norm`)."""
        return [s / max(n, 1) for s, n in zip(self.sum_logprob, self.n_chars)]

    def scores(self, normalization: str = "sum") -> list[float]:
        if normalization not in NORMALIZATIONS:
            raise LorabenchError(f"unknown normalization {normalization!r}; use one of {', '.join(NORMALIZATIONS)}")
        return {"sum": self.sum_logprob, "mean": self.mean_logprob, "char": self.char_logprob}[normalization]

    def prediction(self, normalization: str = "sum") -> str:
        """The label of the best-scoring option; a tie goes to the earlier label."""
        values = self.scores(normalization)
        return self.labels[max(range(len(values)), key=values.__getitem__)]


@dataclass(frozen=True)
class LetterRequest:
    """Read the probability of each label (" A" plain, "A" chat) as the answer's first token."""

    prompt: Prompt
    labels: tuple[str, ...]

    @property
    def record_id(self) -> str:
        return self.prompt.record_id


@dataclass(frozen=True)
class LetterScores:
    record_id: str
    logprobs: dict[str, float]  # label -> log P(label | prompt)

    def prediction(self) -> str:
        """The most probable label; a tie goes to the earlier label."""
        return max(self.logprobs, key=self.logprobs.__getitem__)


class Backend(ABC):
    """One model behind one engine. Results of `generate` may come in any order (match them to
    requests by `record_id`); `score_options` and `score_letters` answer in request order."""

    name: ClassVar[str]
    tokenizer: Any  # the transformers tokenizer prompts are built and encoded with
    config: Any  # the model's transformers config: its context window and architecture
    is_seq2seq: bool

    @property
    def context_window(self) -> int | None:
        """Tokens a prompt and its answer share, or None: unknown, or an encoder-decoder whose
        answer does not count against the encoder's window."""
        return None if self.is_seq2seq else model_context_length(self)

    def use_engine(self, engine: str) -> None:
        """decoding.engine. Only the hf backend has more than one way to generate."""
        if engine != "auto":
            raise LorabenchError(f"decoding.engine '{engine}' applies to the hf backend only, not '{self.name}'; use auto")

    def engine_passes(self) -> list[EnginePass]:
        """The generation passes run so far and how each ran; [] for a backend with one engine."""
        return []

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Generation]:
        """Greedy continuations, yielded as each batch finishes; `progress(k)` per finished batch."""

    @abstractmethod
    def score_options(self, requests: Sequence[OptionRequest]) -> list[OptionScores]: ...

    @abstractmethod
    def score_letters(self, requests: Sequence[LetterRequest]) -> list[LetterScores]: ...
