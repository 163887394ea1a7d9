"""Multiple choice by log-probability: lm-eval `HFLM.loglikelihood` against `lorabench eval`.

Both score every option of every item as a continuation of the same prompt text, built by
lorabench (chat template, instruction, a context lengthened to 150+ tokens, question, options).
lm-eval gets one `loglikelihood` request per option, as a multiple_choice task makes them, in one
call (its request loop: sorting, batching, padding); lorabench runs `evaluate_records`, the loop
behind `lorabench eval`, with choice_mode logprob and sum scoring so both pick the same way.

lm-eval moves trailing whitespace of the context (the chat template's newline after the
assistant header) into the continuation, so it also scores that newline, the same token for
every option of an item; the token sequences themselves are identical, and are checked.
"""

from __future__ import annotations

from lm_eval.api.instance import Instance

from bench.eval_speed import lengthen
from bench.flops import choice_flops, model_shape
from bench.peers.evaluation import lorabench_prompts, run_both
from bench.peers.model import load_lorabench
from bench.peers.result import CaseResult, Outputs, Target
from lorabench.inference.base import encode_options, option_continuations
from lorabench.data.records import TaskKind
from lorabench.tasks.choice import ChoiceRecord
from lorabench.data.synth import synthesize
from lorabench.config.decoding import DecodingSettings
from lorabench.prompts.build import Prompt, encode_prompt

TARGET = Target(ratio=5.0, ceiling_share=0.60, identical=1.0)
OPTIONS = 4


def choice_records(n: int, seed: int, tokenizer: object) -> list[ChoiceRecord]:
    """`n` four-option items whose contexts are lengthened with other synthetic passages."""
    base = [r for r in synthesize(TaskKind.choice, n, seed) if isinstance(r, ChoiceRecord)]
    filler = [r.context for r in synthesize(TaskKind.choice, n, seed + 1000) if isinstance(r, ChoiceRecord)]
    return lengthen(base, filler, tokenizer)


def requests(records: list[ChoiceRecord], prompts: list[Prompt]) -> list[Instance]:
    """One loglikelihood request per option, in item order."""
    out = []
    for doc_id, (record, prompt) in enumerate(zip(records, prompts, strict=True)):
        for index, continuation in enumerate(option_continuations(record, prompt)):
            out.append(Instance("loglikelihood", {}, (prompt.text, continuation), index, ("lorabench_choice", doc_id, 1)))
    return out


def run(n_items: int, batch_size: int, seed: int, dtype: str = "float32") -> CaseResult:
    loaded = load_lorabench(dtype)
    tokenizer = loaded.tokenizer
    records = choice_records(n_items, seed, tokenizer)
    decoding = DecodingSettings(choice_mode="logprob", choice_normalization="sum", batch_size=batch_size)
    prompts = lorabench_prompts(loaded, records, decoding)
    instances = requests(records, prompts)
    both = run_both(loaded, records, decoding, instances, "loglikelihood", warm_up=(OPTIONS, 1))

    same_choice = max_delta = spread = same_tokens = same_prompt = 0
    scored: list[tuple[int, list[int]]] = []
    choices = Outputs("choices", [], [])
    for doc_id, (record, prompt, row) in enumerate(zip(records, prompts, both.outcome.rows, strict=True)):
        mine = slice(OPTIONS * doc_id, OPTIONS * doc_id + OPTIONS)
        theirs = [score for score, _ in both.peer_output[mine]]
        ours = [row["option_logprob"][label] for label in record.labels]
        deltas = [a - b for a, b in zip(theirs, ours)]
        max_delta = max(max_delta, *map(abs, deltas))
        spread = max(spread, max(deltas) - min(deltas))  # what the newline lm-eval also scores cannot explain
        choices.peer.append(theirs.index(max(theirs)))
        choices.lorabench.append(ours.index(max(ours)))
        same_choice += choices.peer[-1] == choices.lorabench[-1]
        same_prompt += row["prompt"] == prompt.text
        prompt_ids = encode_prompt(prompt.text, tokenizer, prompt.chat)
        options = encode_options(record.id, option_continuations(record, prompt), record.labels, tokenizer, prompt.chat)
        pairs = [both.peer._encode_pair(*instance.args) for instance in instances[mine]]
        same_tokens += all(c + k == prompt_ids + o for (c, k), o in zip(pairs, options))
        scored.append((len(prompt_ids), [len(o) for o in options]))
    n = len(records)
    option_tokens = sum(sum(o) for _, o in scored) / (OPTIONS * n)
    context = sum(len(tokenizer(r.context, add_special_tokens=False)["input_ids"]) for r in records) / n
    agreement = f"max |d logprob| {max_delta:.1e}, {spread:.1e} within an item; {same_choice}/{n} same choices"
    notes = [
        f"mean prompt {sum(p for p, _ in scored) / n:.0f} tokens (context {context:.0f}), {option_tokens:.1f} "
        f"tokens per option; {same_tokens}/{n} items token-identical, {same_prompt}/{n} with identical prompt "
        "text; choices by summed log-prob",
        "d logprob: lm-eval moves the prompt's trailing newline into each continuation and scores it too, "
        "the same offset for all options of an item; 'within an item' is the spread of d over its options",
    ]
    flops = choice_flops(model_shape(loaded.model), scored)
    return both.result("multiple choice (log-prob)", f"{n} x {OPTIONS} options", agreement, flops, TARGET, same_choice / n, notes, choices)
