"""Multiple choice by log-probability: score each option as a continuation of one shared prompt.

`score_options` runs the prompt once and reuses it for every option in one batched forward (the
encoder output for seq2seq models, the key/value cache for causal ones), so a K-option record
costs about two forwards instead of K. `score_options_naive` runs prompt + option once per option;
it is the reference the fast path is tested against and the baseline it is benchmarked against.
Token ids come from `encode_prompt` / `encode_target`, exactly the tokens training uses.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.modeling_outputs import BaseModelOutput

# Defined with the backend interface (every backend encodes options alike); importable from here too.
from lorabench.inference.base import NORMALIZATIONS, OptionScores, encode_options, option_continuations  # noqa: F401
from lorabench.core.errors import LorabenchError
from lorabench.inference import model_api
from lorabench.prompts.build import Prompt, encode_prompt, encode_target


def _right_pad(options: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """K x L ids and mask, options left-aligned so position j is token j of every option."""
    width = max(len(ids) for ids in options)
    ids = torch.full((len(options), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(options), width), dtype=torch.long, device=device)
    for row, option in enumerate(options):
        ids[row, : len(option)] = torch.tensor(option, dtype=torch.long, device=device)
        mask[row, : len(option)] = 1
    return ids, mask


def _target_logprobs(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over each row of log P(target token) where mask is 1; logits[:, j] predicts targets[:, j]."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(dim=-1)


def _decoder_start(model: Any) -> int:
    start = getattr(model.config, "decoder_start_token_id", None)
    if start is None:
        start = getattr(getattr(model, "generation_config", None), "decoder_start_token_id", None)
    if start is None:
        raise LorabenchError("this seq2seq model's config has no decoder_start_token_id")
    return int(start)


def _scores(
    prompt: Prompt, continuations: list[str], labels: list[str], options: list[list[int]], sums: torch.Tensor
) -> OptionScores:
    return OptionScores(
        record_id=prompt.record_id,
        labels=list(labels),
        sum_logprob=[float(v) for v in sums.tolist()],
        n_tokens=[len(ids) for ids in options],
        n_chars=[len(text) for text in continuations],
    )


def _prompt_ids(prompt: Prompt, tokenizer: Any, device: torch.device) -> torch.Tensor:
    return torch.tensor([encode_prompt(prompt.text, tokenizer, prompt.chat)], dtype=torch.long, device=device)


def _pad_id(tokenizer: Any) -> int:
    # Padded positions are masked and never gathered, so any valid id will do.
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _causal_shared(model: Any, prompt_ids: torch.Tensor, options: list[list[int]], pad_id: int) -> torch.Tensor:
    device = prompt_ids.device
    n_prompt, k = prompt_ids.shape[1], len(options)
    extra = {"logits_to_keep": 1} if model_api.accepts(model, "logits_to_keep") else {}
    out = model(input_ids=prompt_ids, use_cache=True, **extra)
    # Token 1 of every option is predicted by the prompt's last position.
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    sums = first[torch.tensor([ids[0] for ids in options], device=device)]
    if max(len(ids) for ids in options) == 1:
        return sums

    # Tokens 2..L are predicted from option tokens 1..L-1, fed after the cached prompt.
    ids, mask = _right_pad(options, pad_id, device)
    inputs, targets, target_mask = ids[:, :-1], ids[:, 1:], mask[:, 1:]
    cache = model_api.returned_cache(out)
    # The prompt's keys/values are identical for every option, so repeating its single batch row
    # K times (DynamicCache.batch_repeat_interleave, the method beam search uses to fan out a prompt)
    # gives exactly the cache each option would have built on its own. The options then run as a
    # K-row batch: position ids continue from the prompt length (as in a single sequence), and the
    # attention mask is ones over the prompt followed by each option's own mask. Options are
    # right-padded, so a real token only ever sees the prompt and earlier real tokens of its option
    # (the causal mask hides the padding after it); padded positions are never gathered.
    cache.batch_repeat_interleave(k)
    positions = torch.arange(n_prompt, n_prompt + inputs.shape[1], device=device).unsqueeze(0).expand(k, -1)
    attention = torch.cat([torch.ones((k, n_prompt), dtype=torch.long, device=device), mask[:, :-1]], dim=1)
    cache_kwarg = {model_api.cache_keyword(model): cache}
    logits = model(input_ids=inputs, attention_mask=attention, position_ids=positions, use_cache=True, **cache_kwarg).logits
    return sums + _target_logprobs(logits, targets, target_mask)


def _seq2seq_decoder_inputs(options: list[list[int]], start: int, pad_id: int, device: torch.device):
    ids, mask = _right_pad(options, pad_id, device)
    starts = torch.full((len(options), 1), start, dtype=torch.long, device=device)
    # Teacher forcing: the decoder reads [start, t1 .. t(L-1)] and predicts [t1 .. tL].
    decoder_ids = torch.cat([starts, ids[:, :-1]], dim=1)
    decoder_mask = torch.cat([torch.ones_like(starts), mask[:, :-1]], dim=1)
    return decoder_ids, decoder_mask, ids, mask


def _seq2seq_shared(model: Any, prompt_ids: torch.Tensor, options: list[list[int]], pad_id: int) -> torch.Tensor:
    k = len(options)
    prompt_mask = torch.ones_like(prompt_ids)
    encoded = model.get_encoder()(input_ids=prompt_ids, attention_mask=prompt_mask).last_hidden_state
    # The encoder output depends on the prompt only; `expand` shares it across the K rows without a copy.
    encoder_outputs = BaseModelOutput(last_hidden_state=encoded.expand(k, -1, -1))
    decoder_ids, decoder_mask, targets, target_mask = _seq2seq_decoder_inputs(
        options, _decoder_start(model), pad_id, prompt_ids.device
    )
    logits = model(
        encoder_outputs=encoder_outputs,
        attention_mask=prompt_mask.expand(k, -1),
        decoder_input_ids=decoder_ids,
        decoder_attention_mask=decoder_mask,
        use_cache=False,
    ).logits
    return _target_logprobs(logits, targets, target_mask)


def score_options(
    model: Any, tokenizer: Any, prompt: Prompt, continuations: list[str], labels: list[str], is_seq2seq: bool = False
) -> OptionScores:
    """log P(option | prompt) for every option: the prompt runs once, the options in one batch."""
    options = encode_options(prompt.record_id, continuations, labels, tokenizer, prompt.bare_answer)
    with torch.inference_mode():
        prompt_ids = _prompt_ids(prompt, tokenizer, model.device)
        shared = _seq2seq_shared if is_seq2seq else _causal_shared
        sums = shared(model, prompt_ids, options, _pad_id(tokenizer))
    return _scores(prompt, continuations, labels, options, sums)


def score_options_naive(
    model: Any, tokenizer: Any, prompt: Prompt, continuations: list[str], labels: list[str], is_seq2seq: bool = False
) -> OptionScores:
    """The same scores from one full forward per option, sharing nothing: the reference."""
    options = encode_options(prompt.record_id, continuations, labels, tokenizer, prompt.bare_answer)
    sums = []
    with torch.inference_mode():
        prompt_ids = _prompt_ids(prompt, tokenizer, model.device)
        for option in options:
            if is_seq2seq:
                start = _decoder_start(model)
                decoder_ids, _, targets, mask = _seq2seq_decoder_inputs([option], start, 0, model.device)
                logits = model(input_ids=prompt_ids, decoder_input_ids=decoder_ids, use_cache=False).logits
            else:
                targets = torch.tensor([option], dtype=torch.long, device=model.device)
                mask = torch.ones_like(targets)
                ids = torch.cat([prompt_ids, targets], dim=1)
                # Only the last len(option)+1 positions predict option tokens (the very last one
                # predicts past it); projecting the rest onto the vocabulary would make the
                # baseline pay for logits that `score_options` never computes either.
                keep = len(option) + 1
                extra = {"logits_to_keep": keep} if model_api.accepts(model, "logits_to_keep") else {}
                logits = model(input_ids=ids, use_cache=False, **extra).logits[:, -keep:-1]
            sums.append(_target_logprobs(logits, targets, mask)[0])
    return _scores(prompt, continuations, labels, options, torch.stack(sums))


def score_letters(
    model: Any, tokenizer: Any, prompt: Prompt, labels: list[str], is_seq2seq: bool = False
) -> dict[str, float]:
    """log P(label | prompt) over the whole vocabulary, read at the answer position in one forward.

    The label is encoded as training encodes a target (" A" plain, "A" chat). A tokenizer that
    splits a label into several tokens gets the exact multi-token log-prob via `score_options`.
    """
    letter_ids = [encode_target(label, tokenizer, prompt.bare_answer) for label in labels]
    if any(len(ids) != 1 for ids in letter_ids):
        scores = score_options(model, tokenizer, prompt, list(labels), labels, is_seq2seq)
        return dict(zip(labels, scores.sum_logprob))
    with torch.inference_mode():
        prompt_ids = _prompt_ids(prompt, tokenizer, model.device)
        if is_seq2seq:
            start = torch.tensor([[_decoder_start(model)]], dtype=torch.long, device=model.device)
            logits = model(input_ids=prompt_ids, decoder_input_ids=start, use_cache=False).logits
        else:
            extra = {"logits_to_keep": 1} if model_api.accepts(model, "logits_to_keep") else {}
            logits = model(input_ids=prompt_ids, use_cache=False, **extra).logits
        logprobs = torch.log_softmax(logits[0, -1].float(), dim=-1)
    return {label: float(logprobs[ids[0]]) for label, ids in zip(labels, letter_ids)}
