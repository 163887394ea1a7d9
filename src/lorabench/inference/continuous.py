"""Greedy generation for causal models: continuous batching over a preallocated key/value cache.

`generate.generate` runs `model.generate` on one padded batch at a time, so a batch decodes until
its longest answer ends (on extractive QA, over half of the decoded rows are finished rows
waiting), pads every row to the longest prompt, and re-concatenates the whole cache at each
step. Here `batch_size` slots share one cache allocated up front, and every forward is one packed
row of real tokens, no padding:

- a slot that finishes is refilled from the queue in the next forward, whose tokens are the
  running slots' next tokens plus the new prompts' tokens (chunked-prefill style), so the batch
  stays full and prefill costs no forward of its own;
- prompts that share a long prefix (several questions on one passage) compute it once: the
  group's first member computes its whole prompt, and its prefix columns are copied into the
  other members' slots (inside the same forward, or later from a saved copy);
- each running slot also feeds the tokens prompt lookup guesses come next (`_Lookup`); a guess is
  kept only where it equals the model's own greedy choice, so it changes the cost, not the text.

Why not transformers' own continuous batching (`generate_batch`): on SmolLM2-135M, 2 CPU threads,
100 extractive questions, it took 54 to 72 s against 45 s for `generate.generate` (its paged cache
targets GPU kernels), and it stops at token ids only, not at stop strings.

How the model runs it: each slot holds one sequence left-aligned (prompt token i at column i,
answer token j at column len(prompt) + j), so a token's position id is its column. The forward
gets position ids, a `SlotCache` whose `update` writes each token's key and value at its slot and
column, and, for the call, the attention function `slot_attention`, which regroups the packed
queries per slot and attends to that slot's columns up to the query's own. Hence the limits in
`supported`: full attention in every layer and a model that reaches attention only through the
cache and the registered attention function. Anything else stays on `generate.generate`.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AttentionInterface

from lorabench.inference.base import Generation
from lorabench.inference import generate as batched
from lorabench.inference import model_api, prefix
from lorabench.inference.generate import GenerationSettings, encode_all, ends_generation, ordered, stop_token_ids
from lorabench.prompts.build import Prompt

logger = logging.getLogger(__name__)

ATTENTION_NAME = "lorabench_slots"
ATTENTION_BEFORE = ("sdpa", "eager")  # what `supported` models may be configured with
# Rows whose query block is longer than this attend on their own, so that one long prompt does
# not pad every running slot's few queries to its length.
SHORT_QUERIES = 32
# Prompt lookup (see `_Lookup`): longest n-gram matched, and bounds of the adaptive guess count.
NGRAM = 3
FIRST_DRAFT, MIN_DRAFT, MAX_DRAFT = 4, 1, 8


@dataclass(frozen=True)
class _Block:
    """Slots that attend together: their queries padded to one length."""

    slots: slice
    gather: torch.Tensor  # [rows * width] index into the packed tokens (padding repeats a real one)
    real: torch.Tensor  # [rows * width] bool: not padding
    mask: torch.Tensor  # [rows, 1, width, visible] additive: 0 where a query sees a column, -inf elsewhere
    visible: int
    grouped: dict[int, torch.Tensor] = field(default_factory=dict)  # queries per key head -> mask repeated that often

    def mask_for(self, groups: int) -> torch.Tensor:
        """The mask for `groups` queries per key/value head side by side, built once per forward:
        the layers' own tensors say how many (an MLA model repeats its keys for every head)."""
        if groups not in self.grouped:
            rows, _, width, visible = self.mask.shape
            self.grouped[groups] = self.mask[:, :, None].expand(rows, 1, groups, width, visible).reshape(
                rows, 1, groups * width, visible
            )
        return self.grouped[groups]


@dataclass(frozen=True)
class _Layout:
    """Where the packed tokens of one forward go: `update` writes, `slot_attention` reads."""

    slots: torch.Tensor  # [tokens] slot per packed token
    columns: torch.Tensor  # [tokens] column per packed token
    blocks: list[_Block]
    copies: list[tuple[int, int, int]]  # (source slot, target slot, columns) after this layer's writes


_LAYOUT: contextvars.ContextVar[_Layout] = contextvars.ContextVar("lorabench_slot_layout")


def slot_attention(
    module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: Any,
    scaling: float | None = None, dropout: float = 0.0, **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention for a packed forward over a `SlotCache`: `query` is `[1, heads, tokens, dim]`,
    `key`/`value` the cache's `[slots, kv_heads, width, dim]`. Each block's queries are gathered
    into `[rows, kv_heads, groups * width, dim]` (a grouped-query head's queries side by side, so
    no key or value is repeated per head) and attend through SDPA under the block's mask."""
    layout = _LAYOUT.get()
    _, heads, tokens, dim = query.shape
    kv_heads = key.shape[1]
    value_dim = value.shape[-1]  # MLA-style models give values a head size of their own
    groups = heads // kv_heads
    packed = query[0].transpose(0, 1)  # [tokens, heads, dim]
    output = query.new_empty(tokens, heads, value_dim)
    for block in layout.blocks:
        rows = block.slots.stop - block.slots.start
        width = block.gather.numel() // rows
        q = packed[block.gather].view(rows, width, kv_heads, groups, dim).permute(0, 2, 3, 1, 4)
        q = q.reshape(rows, kv_heads, groups * width, dim)
        keys, values = key[block.slots, :, : block.visible], value[block.slots, :, : block.visible]
        out = torch.nn.functional.scaled_dot_product_attention(
            q, keys, values, attn_mask=block.mask_for(groups), scale=scaling
        )
        out = out.view(rows, kv_heads, groups, width, value_dim).permute(0, 3, 1, 2, 4)
        out = out.reshape(rows * width, heads, value_dim)
        output[block.gather[block.real]] = out[block.real]
    return output[None], None


AttentionInterface.register(ATTENTION_NAME, slot_attention)


# generation_config fields known not to change a greedy choice: the ones `generate._greedy_kwargs`
# overrides for both engines, sampling- and beam-only ones (greedy decoding never applies them),
# token ids and output bookkeeping. A checkpoint setting any other field (suppress_tokens,
# sequence_bias, dola_layers, watermarking, anything a later transformers adds) leaves the model
# on `generate.generate`, where `model.generate` applies it: this engine's argmax would not.
GREEDY_NEUTRAL = frozenset({
    # overridden by _greedy_kwargs
    "do_sample", "num_beams", "temperature", "top_p", "top_k", "repetition_penalty", "no_repeat_ngram_size",
    "min_length", "stop_strings", "max_new_tokens", "eos_token_id", "pad_token_id",
    # sampling only
    "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "top_h",
    # beam search only
    "length_penalty", "early_stopping", "low_memory",
    # ids, limits the budget overrides, output and compilation bookkeeping
    "bos_token_id", "decoder_start_token_id", "max_length", "use_cache", "renormalize_logits",
    "output_attentions", "output_hidden_states", "output_scores", "output_logits", "return_dict_in_generate",
    "compile_config", "disable_compile", "transformers_version", "_from_model_config",
})


def _greedy_changing(generation_config: Any) -> str | None:
    """The first generation-config field set away from its default that is not known to leave
    greedy choices alone, as `name=value`; None when there is none."""
    if generation_config is None:
        return None
    try:
        changed = generation_config.to_diff_dict()
    except Exception:  # a config object transformers cannot diff: not known to be neutral
        return "generation_config (unreadable)"
    for name, value in changed.items():
        if name not in GREEDY_NEUTRAL and value is not None:
            return f"generation_config.{name}={value!r}"
    return None


def unsupported_reason(model: Any) -> str | None:
    """Why this engine cannot run `model` exactly, or None when it can: it needs a causal model
    whose every layer attends to the whole sequence (a prefilled cache works, see
    `prefix.supports_shared_prefix`) through SDPA or eager attention, which `slot_attention` stands
    in for, and whose generation config changes no greedy choice."""
    if not prefix.supports_shared_prefix(model):
        return "not a causal model with full attention in every layer and a plain cache"
    changing = _greedy_changing(getattr(model, "generation_config", None))
    if changing:
        return f"{changing} may change greedy choices"
    config = model.config
    attention = getattr(config, "_attn_implementation", None)
    if attention not in ATTENTION_BEFORE:
        return f"attention implementation {attention!r} (sdpa or eager needed)"
    if getattr(config, "sub_configs", None):
        return "a composite config (sub-models)"
    if not model_api.accepts(model, "logits_to_keep"):
        return "its forward takes no logits_to_keep"
    return None


def supported(model: Any) -> bool:
    """Whether this engine runs `model` exactly (see `unsupported_reason`)."""
    return unsupported_reason(model) is None


class SlotCache:
    """Keys and values of every layer in `[slots, kv_heads, width, head_dim]` buffers, allocated at
    the first write; `update` (what every attention layer calls) writes the forward's packed tokens
    where the current `_Layout` says and returns the whole buffers."""

    def __init__(self, slots: int, width: int) -> None:
        self.slots, self.width = slots, width
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any):
        layout = _LAYOUT.get()
        if layer_idx == len(self.keys):
            # Each with its own head count and size: values may be narrower than keys (MLA).
            self.keys.append(key_states.new_zeros((self.slots, key_states.shape[1], self.width, key_states.shape[-1])))
            self.values.append(value_states.new_zeros((self.slots, value_states.shape[1], self.width, value_states.shape[-1])))
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        # [1, heads, tokens, dim] -> [tokens, heads, dim], the layout advanced indexing writes.
        keys[layout.slots, :, layout.columns] = key_states[0].transpose(0, 1)
        values[layout.slots, :, layout.columns] = value_states[0].transpose(0, 1)
        for source, target, columns in layout.copies:
            keys[target, :, :columns] = keys[source, :, :columns]
            values[target, :, :columns] = values[source, :, :columns]
        return keys, values

    def move_row(self, source: int, target: int, columns: int) -> None:
        for layer in (*self.keys, *self.values):
            layer[target, :, :columns] = layer[source, :, :columns]

    def save_prefix(self, row: int, columns: int) -> list[torch.Tensor]:
        return [layer[row, :, :columns].clone() for layer in (*self.keys, *self.values)]

    def load_prefix(self, row: int, saved: list[torch.Tensor]) -> None:
        for layer, part in zip((*self.keys, *self.values), saved):
            layer[row, :, : part.shape[1]] = part

    # Transformers may ask any cache it is handed for these; nothing here depends on the answers.
    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0

    @property
    def is_compileable(self) -> bool:
        return False


class _Lookup:
    """Guesses of a sequence's next tokens by prompt lookup: when its last n tokens (n = NGRAM
    down to 2) occurred earlier in its prompt or answer, what followed them then is guessed to
    follow now. Extractive answers are copied from the passage, so most guesses hold. The number
    guessed adapts: twice as many after a step that kept them all, half after a miss."""

    def __init__(self, ids: list[int]) -> None:
        self.sequence: list[int] = []
        self.ends: dict[tuple[int, ...], int] = {}  # n-gram -> end of its latest occurrence before the tail
        self.budget = FIRST_DRAFT
        self.extend(ids)

    def extend(self, tokens: list[int]) -> None:
        for token in tokens:
            # The n-grams ending at the old tail become lookup targets; the new tail's are not yet.
            end = len(self.sequence)
            for n in range(2, NGRAM + 1):
                if end >= n:
                    self.ends[tuple(self.sequence[end - n : end])] = end
            self.sequence.append(token)

    def draft(self, limit: int) -> list[int]:
        count = min(self.budget, limit)
        if count <= 0:
            return []
        for n in range(NGRAM, 1, -1):
            end = self.ends.get(tuple(self.sequence[-n:])) if len(self.sequence) >= n else None
            if end is not None:
                return self.sequence[end : end + count]
        return []

    def kept(self, drafted: int, kept: int) -> None:
        if drafted:
            self.budget = min(MAX_DRAFT, 2 * self.budget) if kept == drafted else max(MIN_DRAFT, self.budget // 2)


@dataclass
class _Prefix:
    length: int
    pending: int  # members not yet admitted
    saved: list[torch.Tensor] | None = None  # its columns, while members are still to come
    source: int | None = None  # the slot computing it in the forward being built


@dataclass
class _Item:
    prompt: Prompt
    ids: list[int]
    group: _Prefix | None  # the shared prefix it reuses, if any
    lookup: _Lookup | None = None
    generated: list[int] = field(default_factory=list)
    seconds: float = 0.0
    reason: str | None = None  # why it stopped, once it has


@dataclass
class _Row:
    """One slot's part of the forward being built."""

    tokens: list[int]
    start: int  # column of its first token
    drafted: list[int]  # the guesses among `tokens` (a running slot's), or [] for a joining one


class _Engine:
    """The slots and the queue. `step` runs one forward in inference mode and returns what
    finished, so the generator around it never suspends inside inference mode."""

    def __init__(self, model: Any, tokenizer: Any, items: list[_Item], settings: GenerationSettings) -> None:
        self.model, self.tokenizer, self.settings = model, tokenizer, settings
        self.queue = deque(items)
        self.active: list[_Item] = []
        self.columns: list[int] = []  # next free column per active slot
        self.next_token: list[int] = []  # greedy token not yet fed, per active slot
        self.slots = min(settings.batch_size, len(items))
        self.cache = SlotCache(self.slots, max(len(item.ids) for item in items) + settings.max_new_tokens)
        self.stop_ids = set(stop_token_ids(tokenizer, model))
        self.cache_keyword = model_api.cache_keyword(model)
        self.steps = 0  # forwards run, for messages
        # The compute dtype: a quantized model's first parameter may be packed integers.
        self.dtype = model.dtype

    @property
    def done(self) -> bool:
        return not self.queue and not self.active

    @torch.inference_mode()
    def step(self, check: bool = False, check_all: bool = False) -> list[Generation]:
        """One forward. `check`: make sure its logits after the first joining prompt equal a plain
        forward's; `check_all`: every logit it keeps, row by row (slow; LORABENCH_CHECK_ENGINE=1)."""
        started = time.perf_counter()
        self.steps += 1
        running = len(self.active)
        rows = [self._running_row(i) for i in range(running)]
        copies: list[tuple[int, int, int]] = []
        while self.queue and len(self.active) < self.slots:
            rows.append(self._admit(self.queue.popleft(), copies))
        logits, greedy = self._forward(rows, copies, running)
        if check_all:
            at = 0
            for slot, row in enumerate(rows):
                count = len(row.drafted) + 1
                self._check(self.active[slot], row, logits[at : at + count])
                at += count
        elif check:
            # The first joining row's last position follows the running rows' guesses and tokens.
            at = sum(len(row.drafted) + 1 for row in rows[:running])
            self._check(self.active[running], rows[running], logits[at : at + 1])
        for slot in range(running, len(self.active)):
            group = self.active[slot].group
            if group is not None and group.source == slot:
                if group.pending:
                    group.saved = self.cache.save_prefix(slot, group.length)
                group.source = None
        share = (time.perf_counter() - started) / len(rows)
        finished = [slot for slot, (row, chosen) in enumerate(zip(rows, greedy)) if self._take(slot, row, chosen, share)]
        return [self._retire(slot) for slot in sorted(finished, reverse=True)]

    def _running_row(self, slot: int) -> _Row:
        item = self.active[slot]
        assert item.lookup is not None
        # Never guess past the budget: the last guess's column must stay inside the cache.
        drafted = item.lookup.draft(self.settings.max_new_tokens - len(item.generated))
        return _Row([self.next_token[slot], *drafted], self.columns[slot], drafted)

    def _admit(self, item: _Item, copies: list[tuple[int, int, int]]) -> _Row:
        """Give `item` the next slot; its row feeds the prompt past any prefix it can reuse."""
        slot = len(self.active)
        self.active.append(item)
        self.columns.append(len(item.ids))
        self.next_token.append(0)
        item.lookup = _Lookup(item.ids)
        group, start = item.group, 0
        if group is not None:
            group.pending -= 1
            if group.saved is not None:
                self.cache.load_prefix(slot, group.saved)
                start = group.length
                if not group.pending:
                    group.saved = None
            elif group.source is not None:
                copies.append((group.source, slot, group.length))
                start = group.length
            else:
                group.source = slot  # computes the whole prompt; the others copy its prefix
        return _Row(item.ids[start:], start, [])

    def _forward(
        self, rows: list[_Row], copies: list[tuple[int, int, int]], running: int
    ) -> tuple[torch.Tensor, list[list[int]]]:
        """One packed forward of `rows` (row r is slot r): the logits kept (`[positions, vocab]`,
        row by row: after each of its guesses and after its last token; a joining row's after its
        last token only), and per row the greedy tokens read from them."""
        tokens = [token for row in rows for token in row.tokens]
        slots = [slot for slot, row in enumerate(rows) for _ in row.tokens]
        columns = [row.start + i for row in rows for i in range(len(row.tokens))]
        offsets = [0]
        for row in rows:
            offsets.append(offsets[-1] + len(row.tokens))
        wanted = [i for r, row in enumerate(rows) for i in range(offsets[r + 1] - 1 - len(row.drafted), offsets[r + 1])]
        device = self.model.device
        layout = _Layout(
            torch.tensor(slots, device=device), torch.tensor(columns, device=device), self._blocks(rows, offsets, running), copies
        )
        config = self.model.config
        before = config._attn_implementation
        context = _LAYOUT.set(layout)
        # The attention function is read off the config at each call; it is ours for this call only.
        config._attn_implementation = ATTENTION_NAME
        try:
            output = self.model(
                input_ids=torch.tensor([tokens], device=device),
                position_ids=torch.tensor([columns], device=device),
                attention_mask=_PASS_THROUGH,
                use_cache=True,
                logits_to_keep=torch.tensor(wanted, device=device),
                **{self.cache_keyword: self.cache},
            )
        finally:
            config._attn_implementation = before
            _LAYOUT.reset(context)
        logits = output.logits[0]
        greedy = logits.argmax(dim=-1).tolist()
        result, at = [], 0
        for row in rows:
            count = len(row.drafted) + 1
            result.append(greedy[at : at + count])
            at += count
        return logits, result

    def _check(self, item: _Item, row: _Row, logits: torch.Tensor) -> None:
        """Raise `Mismatch` unless `logits` (the engine's for `row`: after each of its guesses and
        after its last token) equal a plain forward's over the same sequence: a model that reaches
        attention some other way would fail here, not silently."""
        # The sequence so far: the prompt, what was generated (its last token is this row's first), the guesses.
        sequence = [*item.ids, *item.generated, *row.drafted]
        plain = self.model(
            input_ids=torch.tensor([sequence], device=self.model.device), use_cache=False, logits_to_keep=len(logits)
        )
        expected = plain.logits[0].float()
        scale = max(1.0, expected.abs().max().item())
        tolerance = (1e-3 if self.dtype == torch.float32 else 3e-2) * scale
        gap = (logits.float() - expected).abs().max().item()
        if gap > tolerance or not torch.equal(logits.argmax(dim=-1), expected.argmax(dim=-1)):
            raise Mismatch(
                f"{type(self.model).__name__}: logits differ from a plain forward by {gap:.3g} "
                f"(forward {self.steps}, item {item.prompt.record_id}, {len(sequence)} tokens)"
            )

    def _blocks(self, rows: list[_Row], offsets: list[int], running: int) -> list[_Block]:
        """Attention blocks: the running slots together (their few queries each), then the joining
        ones, consecutive short prompts together and each long one alone."""
        blocks = [self._block(list(range(running)), rows, offsets)] if running else []
        run: list[int] = []
        for slot in range(running, len(rows)):
            if len(rows[slot].tokens) > SHORT_QUERIES:
                if run:
                    blocks.append(self._block(run, rows, offsets))
                    run = []
                blocks.append(self._block([slot], rows, offsets))
            else:
                run.append(slot)
        if run:
            blocks.append(self._block(run, rows, offsets))
        return blocks

    def _block(self, slots: list[int], rows: list[_Row], offsets: list[int]) -> _Block:
        width = max(len(rows[s].tokens) for s in slots)
        visible = max(rows[s].start + len(rows[s].tokens) for s in slots)
        gather, real, limits = [], [], []
        for s in slots:
            n = len(rows[s].tokens)
            gather.extend(list(range(offsets[s], offsets[s] + n)) + [offsets[s]] * (width - n))
            real.extend([True] * n + [False] * (width - n))
            # A query sees its slot's columns up to its own; padding sees column 0, so no row is empty.
            limits.append([rows[s].start + i for i in range(n)] + [0] * (width - n))
        limit = torch.tensor(limits)  # [rows, width]
        allowed = (torch.arange(visible)[None, None, :] <= limit[:, :, None])[:, None]  # [rows, 1, width, visible]
        # An additive mask: SDPA turns a boolean one into this at every call, i.e. in every layer.
        mask = torch.zeros(allowed.shape, dtype=self.dtype).masked_fill_(~allowed, float("-inf"))
        device = self.model.device
        return _Block(
            slice(slots[0], slots[-1] + 1), torch.tensor(gather, device=device), torch.tensor(real, device=device),
            mask.to(device), visible,
        )

    def _take(self, slot: int, row: _Row, greedy: list[int], share: float) -> bool:
        """Keep the row's guesses up to the first the model disagrees with, then its own token;
        whether the item finished."""
        item = self.active[slot]
        item.seconds += share
        kept = 0
        while kept < len(row.drafted) and row.drafted[kept] == greedy[kept]:
            kept += 1
        assert item.lookup is not None
        item.lookup.kept(len(row.drafted), kept)
        self.columns[slot] = row.start + len(row.tokens) - len(row.drafted) + kept
        new = [*row.drafted[:kept], greedy[kept]]
        for token in new:
            item.generated.append(token)
            item.reason = self._stop_reason(item)
            if item.reason is not None:
                return True
        item.lookup.extend(new)
        self.next_token[slot] = new[-1]
        return False

    def _stop_reason(self, item: _Item) -> str | None:
        reason = ends_generation(item.generated, self.stop_ids, self.settings.stop_strings, self.tokenizer)
        if reason is None and len(item.generated) >= self.settings.max_new_tokens:
            return "max_new_tokens"
        return reason

    def _retire(self, slot: int) -> Generation:
        """Free `slot`, moving the last active slot into it so the active slots stay 0..n-1."""
        item = self.active[slot]
        last = len(self.active) - 1
        if slot != last:
            self.cache.move_row(last, slot, self.columns[last])
            self.active[slot], self.columns[slot], self.next_token[slot] = self.active[last], self.columns[last], self.next_token[last]
        del self.active[last], self.columns[last], self.next_token[last]
        assert item.reason is not None
        return Generation(
            record_id=item.prompt.record_id,
            text=self.tokenizer.decode(item.generated, skip_special_tokens=True),
            prompt_tokens=len(item.ids),
            generated_tokens=len(item.generated),
            latency_s=item.seconds,
            hit_max_new_tokens=item.reason == "max_new_tokens",
            stop_reason=item.reason,
        )


class Mismatch(RuntimeError):
    """The engine's first logits differ from a plain forward's; `generate` falls back."""


# A 4D mask is passed through transformers' mask creation unchanged; `slot_attention` ignores it.
_PASS_THROUGH = torch.ones(1, 1, 1, 1, dtype=torch.bool)


def _items(encoded: list[tuple[Prompt, list[int]]]) -> list[_Item]:
    """Items in admission order, each pointing at the shared prefix it reuses."""
    groups = prefix.prefix_groups([ids for _, ids in encoded])
    group_of: dict[int, _Prefix] = {}
    for group in groups:
        if group.length and len(group.members) > 1:
            shared = _Prefix(group.length, len(group.members))
            group_of.update((member, shared) for member in group.members)
    return [_Item(prompt, ids, group_of.get(index)) for index, (prompt, ids) in enumerate(encoded)]


# Set to 1 to check every forward's logits against a plain forward (slow: for bug reports).
CHECK_ENV = "LORABENCH_CHECK_ENGINE"


def check_every_forward() -> bool:
    return os.environ.get(CHECK_ENV, "") == "1"


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    settings: GenerationSettings,
    progress: Callable[[int], None] | None = None,
    fell_back: Callable[[str], None] | None = None,
) -> Iterator[Generation]:
    """Greedy continuations of `prompts`, up to `settings.batch_size` decoded at once, yielded as
    each finishes (match them to records by `record_id`). Prompts are admitted in the order
    `generate.batch_order` gives with prefix sharing, so a passage's questions run close together;
    `progress(k)` gets the number each forward finished.

    Anything that goes wrong in the first forward (its logits differ from a plain forward's, or
    the model raises) sends the whole pass to `generate.generate` with one warning line, and
    `fell_back(reason)` is told why. Under LORABENCH_CHECK_ENGINE=1 every later forward is checked
    too, and a difference there raises `Mismatch` (answers were already given: nothing to fall back to).
    """
    if not prompts:
        return
    model.eval()
    check_all = check_every_forward()
    try:
        engine = _Engine(model, tokenizer, _items(ordered(encode_all(tokenizer, prompts), settings, share_prefix=True)), settings)
        finished = engine.step(check=True, check_all=check_all)
    except Exception as error:  # noqa: BLE001 - any failure of the first forward: the padded path is the reference
        first_line = (str(error).splitlines() or [""])[0]
        reason = first_line if isinstance(error, Mismatch) else f"{type(error).__name__}: {first_line}"
        logger.warning("continuous batching is off for this model (%s); generating in padded batches", reason)
        if fell_back is not None:
            fell_back(reason)
        yield from batched.generate(model, tokenizer, prompts, settings, progress=progress)
        return
    while True:
        if finished and progress is not None:
            progress(len(finished))
        yield from finished
        if engine.done:
            return
        finished = engine.step(check_all=check_all)
