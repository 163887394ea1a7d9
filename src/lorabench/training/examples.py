"""Training examples: records to token ids and labels, padded batches, and a length-grouped order.

A record becomes tokens only through a `prompts.build.PromptBuilder` (for the batch and sequential
strategies, through the prompts `prompts.strategy` makes of a context), tokenized by `encode_prompt`
and `encode_target` (a `TokenizedPrompt`), so the prompt a model is trained on is, token for token,
the prompt it is later evaluated on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler
from transformers.trainer_pt_utils import get_length_grouped_indices

from lorabench.data.records import Record
from lorabench.core.errors import LorabenchError
from lorabench.inference.generate import END_OF_TURN_TOKENS
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.build import Prompt, PromptBuilder, TokenizedPrompt, build_prompt
from lorabench.prompts.strategy import tokenized_units

IGNORE_INDEX = -100  # the label value torch's cross-entropy and transformers' losses skip


@dataclass(frozen=True)
class EncodedExample:
    """One training example.

    Causal: `input_ids` is prompt + answer + end token, `labels` the same ids with the prompt masked.
    Seq2seq: `input_ids` is the prompt (encoder input) and `labels` the decoder targets (answer + end
    token); the model builds its decoder inputs by shifting `labels` right, so they are the decoder fields.
    """

    record_id: str  # a context's example (batch, sequential) goes by its first record's id
    input_ids: list[int]
    labels: list[int]
    prompt_tokens: int  # tokens before the first learned one
    answer_truncated: bool = False

    @property
    def learned_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)

    def features(self) -> dict[str, list[int]]:
        return {"input_ids": self.input_ids, "labels": self.labels}


def answer_end_id(tokenizer: Any, chat: bool) -> int:
    """The token a trained model should write after an answer.

    With a chat template that is the template's end-of-turn marker (what an assistant turn ends
    with, and a stop token at evaluation); otherwise the tokenizer's EOS.
    """
    if chat:
        template = str(getattr(tokenizer, "chat_template", "") or "")
        vocab = tokenizer.get_vocab()
        for token in END_OF_TURN_TOKENS:
            if token in template and token in vocab:
                return int(vocab[token])
    if tokenizer.eos_token_id is None:
        raise LorabenchError("the tokenizer has no EOS token, so a trained model could not learn to stop")
    return int(tokenizer.eos_token_id)


def encode_example(
    record: Record,
    tokenizer: Any,
    prompt_settings: PromptSettings,
    is_seq2seq: bool,
    max_length: int | None = None,
) -> EncodedExample:
    """Token ids and labels for one record; only the answer and its end token are learned.

    `max_length` (the causal model's context window) cuts the answer, never the prompt, so the
    prompt stays identical to the evaluation prompt. An example left with nothing to learn is an
    error naming the record: it would otherwise add a silent zero to the loss.
    """
    return prompt_example(build_prompt(record, tokenizer, prompt_settings), tokenizer, is_seq2seq, max_length)


def prompt_example(prompt: Prompt, tokenizer: Any, is_seq2seq: bool, max_length: int | None) -> EncodedExample:
    """A prompt (as a PromptBuilder made it) followed by its target and end token, the target alone learned."""
    return _answer_example(TokenizedPrompt.of(prompt, tokenizer), tokenizer, is_seq2seq, max_length)


def _answer_example(tokens: TokenizedPrompt, tokenizer: Any, is_seq2seq: bool, max_length: int | None) -> EncodedExample:
    prompt = tokens.prompt
    end_id = answer_end_id(tokenizer, prompt.chat)
    prompt_ids = list(tokens.prompt_ids)
    answer_ids = tokens.target_ids + [end_id]
    full_answer = len(answer_ids)
    if is_seq2seq:
        if max_length is not None:
            answer_ids = answer_ids[:max_length]
        input_ids, labels = prompt_ids, answer_ids
    else:
        if max_length is not None:
            answer_ids = answer_ids[: max(0, max_length - len(prompt_ids))]
        input_ids = prompt_ids + answer_ids
        labels = [IGNORE_INDEX] * len(prompt_ids) + answer_ids
    example = EncodedExample(prompt.record_id, input_ids, labels, len(prompt_ids), len(answer_ids) < full_answer)
    _require_learning(example, max_length)
    return example


def _require_learning(example: EncodedExample, max_length: int | None) -> None:
    if example.learned_tokens == 0:
        raise LorabenchError(
            f"record {example.record_id}: no answer tokens are left to learn (the {example.prompt_tokens}-token prompt "
            f"fills the {max_length}-token limit); lower prompt.max_prompt_tokens or drop the record"
        )


def _conversation_example(turns: Sequence[TokenizedPrompt], tokenizer: Any, max_length: int | None) -> EncodedExample:
    """A context's conversation for a causal model: every answer turn (and its end token) learned,
    the rest masked. The history holds the gold answers (teacher forcing); at evaluation it holds the
    model's own. The example's prefix before answer k is, token for token, the evaluation prompt of turn k."""
    end_id = answer_end_id(tokenizer, turns[0].prompt.chat)
    input_ids: list[int] = []
    labels: list[int] = []
    first_prompt = 0
    for k, turn in enumerate(turns):
        prompt, prompt_ids = turn.prompt, turn.prompt_ids
        if prompt_ids[: len(input_ids)] != input_ids:
            raise LorabenchError(
                f"record {prompt.record_id}: the prompt of turn {k + 1} does not begin with the tokens of the "
                "earlier turns as trained (the tokenizer or chat template renders the history differently); "
                "use prompt.strategy 'batch' or 'single', or prompt.chat_template 'off'"
            )
        first_prompt = first_prompt or len(prompt_ids)
        answer_ids = turn.target_ids + [end_id]
        labels += [IGNORE_INDEX] * (len(prompt_ids) - len(input_ids)) + answer_ids
        input_ids = prompt_ids + answer_ids
    cut = max_length is not None and len(input_ids) > max_length
    if cut:
        input_ids, labels = input_ids[:max_length], labels[:max_length]
    example = EncodedExample(turns[0].prompt.record_id, input_ids, labels, first_prompt, cut)
    _require_learning(example, max_length)
    return example


def encode_examples(
    records: Sequence[Record],
    tokenizer: Any,
    prompt_settings: PromptSettings,
    is_seq2seq: bool,
    max_length: int | None = None,
) -> list[EncodedExample]:
    """Training examples in the shape of `prompt_settings.strategy`: one per record (single), or
    per context (batch: its numbered questions in, its numbered gold answers learned; sequential: its
    conversation). A seq2seq decoder writes one answer per call, so a sequential context gives it one
    example per turn: the conversation so far in, that turn's answer out."""
    units = tokenized_units(records, PromptBuilder(tokenizer, prompt_settings))
    if prompt_settings.strategy == "sequential" and not is_seq2seq:
        return [_conversation_example(turns, tokenizer, max_length) for turns in units]
    return [_answer_example(tokens, tokenizer, is_seq2seq, max_length) for unit in units for tokens in unit]


class ExampleDataset(Dataset):
    """Encoded examples as the dicts a collator takes; `lengths` feed the length-grouped sampler."""

    def __init__(self, examples: Sequence[EncodedExample]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.examples[index].features()

    @property
    def lengths(self) -> list[int]:
        # Padding follows the longest row of either tensor, so group by the longer one.
        return [max(len(e.input_ids), len(e.labels)) for e in self.examples]


@dataclass(frozen=True)
class PadCollator:
    """Right-pads a batch to its longest row: input ids with the pad id, labels with -100.

    Right padding keeps every row's real tokens at positions 0..n-1, as in an unpadded forward.
    Seq2seq inputs and labels have their own lengths and are padded separately.
    """

    pad_id: int

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = _pad([f["input_ids"] for f in features], self.pad_id)
        labels, _ = _pad([f["labels"] for f in features], IGNORE_INDEX)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def _pad(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in rows)
    padded = [row + [value] * (width - len(row)) for row in rows]
    mask = [[1] * len(row) + [0] * (width - len(row)) for row in rows]
    return torch.tensor(padded, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


class LengthGroupedEpochSampler(Sampler[int]):
    """transformers' length-grouped order (shuffled, then similar lengths batched together), drawn
    from a generator seeded with (seed, epoch) rather than the global RNG.

    The order then depends only on the seed and the epoch: a resumed run replays exactly the batches
    the interrupted one would have seen, and every data-parallel rank computes the same order.
    """

    def __init__(self, lengths: Sequence[int], group_size: int, seed: int) -> None:
        self.lengths = list(lengths)
        self.group_size = group_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.group_size, generator=generator))
