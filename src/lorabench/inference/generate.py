"""Greedy generation in padded batches, with per-item token accounting.

Prompts become token ids only through `prompts.encode_prompt`, so a model is evaluated on exactly
the tokens it was trained on. Batching must not change what a model writes: `generate` and the
one-prompt-at-a-time `generate_naive` give the same text for the same prompts (tests check this).
For causal models, prompts that share a long prefix (questions on one passage) are batched
together and the prefix is computed once per batch (see `prefix`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from lorabench.inference.base import Generation  # the result type lives with the backend interface
from lorabench.inference import model_api, prefix
from lorabench.prompts.build import Prompt, encode_prompt

# End-of-turn markers of common chat templates: an instruct model ends its answer with one of these,
# which its tokenizer does not always declare as EOS.
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>")


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int
    batch_size: int = 8
    stop_strings: tuple[str, ...] = ()
    sort_by_length: bool = True  # cut padding: batch items of similar prompt length

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be at least 1")
        if any(not stop for stop in self.stop_strings):
            raise ValueError("stop_strings must not contain an empty string")


def stop_token_ids(tokenizer: Any, model: Any) -> list[int]:
    """Every token id that ends a generation: the tokenizer's and the generation config's EOS
    (which may be a list) and any end-of-turn token in the vocabulary. `<|endoftext|>` counts only
    when one of those declares it EOS: in chat models it often pads or separates documents."""
    candidates: list[Any] = [tokenizer.eos_token_id]
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    candidates.extend(config_eos if isinstance(config_eos, (list, tuple)) else [config_eos])
    vocab = tokenizer.get_vocab()
    candidates.extend(vocab[token] for token in END_OF_TURN_TOKENS if token in vocab)
    ids: list[int] = []
    for candidate in candidates:
        if candidate is not None and int(candidate) not in ids:
            ids.append(int(candidate))
    return ids


class _StopStringCriteria(StoppingCriteria):
    """Stops a row once its generated text contains a stop string.

    transformers' own `stop_strings=` also matches across the prompt/continuation boundary and
    on token strings rather than decoded text; this one looks only at what was generated and
    decodes it exactly as `_finish` does, so stopping and accounting always agree.
    """

    def __init__(self, tokenizer: Any, stop_strings: tuple[str, ...], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stop_strings = stop_strings
        self.prompt_width = prompt_width
        self.window = _stop_window(stop_strings)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        tails = input_ids[:, self.prompt_width :][:, -self.window :].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        hits = [any(stop in text for stop in self.stop_strings) for text in texts]
        return torch.tensor(hits, dtype=torch.bool, device=input_ids.device)


def _stop_window(stop_strings: tuple[str, ...]) -> int:
    """Enough trailing tokens to hold any stop string: a character can take up to 4 byte tokens,
    and the margin keeps a partly decoded first token from touching the match."""
    return 4 * max((len(stop) for stop in stop_strings), default=0) + 4


def ends_generation(ids: list[int], stop_ids: set[int], stop_strings: tuple[str, ...], tokenizer: Any) -> str | None:
    """Why generation ends at the last token of `ids` ("eos" or "stop_string"), or None when it goes on."""
    if ids[-1] in stop_ids:
        return "eos"
    if stop_strings:
        # Only the tail can hold a stop string that this token completed; an earlier one would have ended it.
        tail = tokenizer.decode(ids[-_stop_window(stop_strings) :], skip_special_tokens=True)
        if any(stop in tail for stop in stop_strings):
            return "stop_string"
    return None


def _stop_position(ids: list[int], stop_ids: set[int], stop_strings: tuple[str, ...], tokenizer: Any) -> tuple[int, str]:
    """How many generated tokens count, and why generation ended there."""
    window = _stop_window(stop_strings)
    for count in range(1, len(ids) + 1):
        # ends_generation reads only the last `window` tokens; a longer slice would be copied for nothing.
        reason = ends_generation(ids[max(0, count - window) : count], stop_ids, stop_strings, tokenizer)
        if reason is not None:
            return count, reason
    return len(ids), "max_new_tokens"


def _pad_batch(sequences: list[list[int]], pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask; a causal model needs left padding so every row ends at its last prompt token."""
    width = max(len(ids) for ids in sequences)
    rows, masks = [], []
    for ids in sequences:
        padding = [pad_id] * (width - len(ids))
        rows.append(padding + ids if left else ids + padding)
        mask = [1] * len(ids)
        masks.append([0] * len(padding) + mask if left else mask + [0] * len(padding))
    return torch.tensor(rows, dtype=torch.long), torch.tensor(masks, dtype=torch.long)


def _greedy_kwargs(settings: GenerationSettings, stop_ids: list[int], pad_id: int) -> dict[str, Any]:
    """Greedy decoding whatever the checkpoint's generation_config says: arguments given to `generate`
    override it, while unset (None) fields would be refilled from it, hence the explicit neutral values."""
    return {
        "do_sample": False,
        "num_beams": 1,
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "min_length": 0,
        # Ours are checked by _StopStringCriteria; a checkpoint's own would need `tokenizer=` and differ.
        "stop_strings": None,
        "max_new_tokens": settings.max_new_tokens,
        "eos_token_id": stop_ids or None,
        "pad_token_id": pad_id,
    }


@torch.inference_mode()
def _run_batch(
    model: Any,
    tokenizer: Any,
    batch: list[tuple[Prompt, list[int]]],
    settings: GenerationSettings,
    is_seq2seq: bool,
    stop_ids: list[int],
    share_prefix: bool = False,
) -> list[Generation]:
    """One `model.generate` call (after one prefix forward when the batch shares prefixes). Kept
    out of the generators so inference mode never leaks into the caller's code while a generator
    is suspended at a `yield`."""
    # Padding is masked out, so any id will do when the tokenizer declares no pad token.
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stop_ids or [0])[0]
    device = model.device
    sequences = [ids for _, ids in batch]
    plan = prefix.plan_batch(sequences) if share_prefix else None
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if plan is None:
        input_ids, attention_mask = _pad_batch(sequences, pad_id, left=not is_seq2seq)
    else:
        input_ids, attention_mask = prefix.layout(sequences, plan, pad_id)
        extra[model_api.cache_keyword(model)] = prefix.prefill(model, plan, pad_id, device)
    criteria = StoppingCriteriaList()
    # Causal output repeats the padded prompt; seq2seq output starts with the decoder start token.
    prompt_width = 1 if is_seq2seq else input_ids.shape[1]
    if settings.stop_strings:
        criteria.append(_StopStringCriteria(tokenizer, settings.stop_strings, prompt_width))

    output = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        stopping_criteria=criteria,
        **extra,
        **_greedy_kwargs(settings, stop_ids, pad_id),
    )
    generated = output[:, prompt_width:].tolist()
    elapsed = time.perf_counter() - started

    results = []
    stop_set = set(stop_ids)
    for (prompt, ids), row in zip(batch, generated):
        count, reason = _stop_position(row, stop_set, settings.stop_strings, tokenizer)
        results.append(
            Generation(
                record_id=prompt.record_id,
                text=tokenizer.decode(row[:count], skip_special_tokens=True),
                prompt_tokens=len(ids),
                generated_tokens=count,
                latency_s=elapsed / len(batch),
                hit_max_new_tokens=reason == "max_new_tokens",
                stop_reason=reason,
            )
        )
    return results


def encode_all(tokenizer: Any, prompts: Sequence[Prompt]) -> list[tuple[Prompt, list[int]]]:
    return [(prompt, encode_prompt(prompt.text, tokenizer, prompt.chat)) for prompt in prompts]


def batch_order(
    model: Any, tokenizer: Any, prompts: Sequence[Prompt], settings: GenerationSettings, is_seq2seq: bool = False
) -> list[Prompt]:
    """`prompts` in the order `generate` batches them: consecutive runs of `settings.batch_size`
    are its batches (the benchmark times the same batches one by one)."""
    share_prefix = _shares_prefix(model, is_seq2seq)
    return [prompt for prompt, _ in ordered(encode_all(tokenizer, prompts), settings, share_prefix)]


def _shares_prefix(model: Any, is_seq2seq: bool) -> bool:
    return not is_seq2seq and prefix.supports_shared_prefix(model)


def ordered(
    encoded: list[tuple[Prompt, list[int]]], settings: GenerationSettings, share_prefix: bool
) -> list[tuple[Prompt, list[int]]]:
    if not settings.sort_by_length:
        return list(encoded)
    if share_prefix:
        return [encoded[i] for i in prefix.prefix_order([ids for _, ids in encoded])]
    # Stable sort: equal lengths keep input order, so runs are reproducible.
    return sorted(encoded, key=lambda item: len(item[1]), reverse=True)


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    settings: GenerationSettings,
    is_seq2seq: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Generation]:
    """Greedy continuations of `prompts`, `settings.batch_size` at a time, yielded batch by batch.

    With `sort_by_length`, prompts are batched in `batch_order`: for a causal model that can reuse
    a prefilled cache, prompts sharing a long prefix together (longest shared prefix first), then
    the rest longest first; otherwise longest first. Results come out in that order; match them to records by
    `record_id`. A causal batch whose rows share long prefixes computes each prefix once.
    `progress(k)` receives the number of items each finished batch completed (as `tqdm.update`
    expects), so its calls sum to `len(prompts)`.
    """
    model.eval()
    stop_ids = stop_token_ids(tokenizer, model)
    share_prefix = _shares_prefix(model, is_seq2seq)
    encoded = ordered(encode_all(tokenizer, prompts), settings, share_prefix)
    for start in range(0, len(encoded), settings.batch_size):
        batch = encoded[start : start + settings.batch_size]
        results = _run_batch(model, tokenizer, batch, settings, is_seq2seq, stop_ids, share_prefix)
        if progress is not None:
            progress(len(batch))
        yield from results


def generate_naive(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    settings: GenerationSettings,
    is_seq2seq: bool = False,
) -> Iterator[Generation]:
    """One `model.generate` call per prompt, in input order, with no padding at all: the baseline
    that batched generation is timed against and must agree with. `settings.batch_size` is ignored."""
    model.eval()
    stop_ids = stop_token_ids(tokenizer, model)
    for item in encode_all(tokenizer, prompts):
        yield from _run_batch(model, tokenizer, [item], settings, is_seq2seq, stop_ids)

