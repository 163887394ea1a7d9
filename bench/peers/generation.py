"""Greedy generation: lm-eval `HFLM.generate_until` against `lorabench eval`, extractive QA.

Several questions share each passage, as in SQuAD-style data. Both get lorabench's chat prompts
verbatim, the same budget (max_new_tokens) and the same stops: lm-eval's `until` is the task's
stop strings, to which it adds the tokenizer's EOS (`<|im_end|>`), and lorabench stops at those
and at the end-of-turn token. Both answers go through lorabench's answer extraction
(`answer_from_generation`) before they are compared.
"""

from __future__ import annotations

import os

from lm_eval.api.instance import Instance

from bench.flops import GenerationGroup, generation_flops, model_shape
from bench.peers.evaluation import lorabench_prompts, run_both
from bench.peers.model import load_lorabench
from bench.peers.result import CaseResult, Outputs, Target
from lorabench.core.kinds import get_task
from lorabench.data.records import Record, TaskKind
from lorabench.data.synth import synthesize
from lorabench.config.decoding import DecodingSettings
from lorabench.prompts.answers import STOP_STRINGS, answer_from_generation
from lorabench.prompts.build import encode_prompt
from lorabench.prompts.grouping import context_groups

TARGET = Target(ratio=4.0, ceiling_share=0.60, identical=0.95)
TASK = TaskKind.extractive


def passage_groups(records: list[Record], ids: dict[str, list[int]], generated: dict[str, int]) -> list[GenerationGroup]:
    """Each passage's questions, with the token prefix their prompts share."""
    return [
        GenerationGroup(
            shared_prefix=len(os.path.commonprefix([ids[r.id] for r in group])),
            prompt_tokens=tuple(len(ids[r.id]) for r in group),
            generated_tokens=tuple(generated[r.id] for r in group),
        )
        for group in context_groups(records)
    ]


def run(n_items: int, batch_size: int, max_new_tokens: int, seed: int, dtype: str = "float32") -> CaseResult:
    loaded = load_lorabench(dtype)
    records = synthesize(TASK, n_items, seed)
    decoding = DecodingSettings(max_new_tokens=max_new_tokens, batch_size=batch_size)
    prompts = lorabench_prompts(loaded, records, decoding)
    until = {"until": list(STOP_STRINGS[TASK]), "max_gen_toks": max_new_tokens, "do_sample": False}
    instances = [
        Instance("generate_until", {}, (p.text, until), 0, ("lorabench_generation", i, 1)) for i, p in enumerate(prompts)
    ]
    both = run_both(loaded, records, decoding, instances, "generate_until", warm_up=(2, 2))

    theirs = [answer_from_generation(get_task(TASK), text) for text in both.peer_output]
    ours = [row["prediction"] for row in both.outcome.rows]
    n, same = len(records), sum(a == b for a, b in zip(theirs, ours, strict=True))
    ids = {p.record_id: encode_prompt(p.text, loaded.tokenizer, p.chat) for p in prompts}
    same_tokens = sum(both.peer.tok_encode(p.text) == ids[p.record_id] for p in prompts)
    generated = {row["id"]: row["generated_tokens"] for row in both.outcome.rows}
    groups = passage_groups(records, ids, generated)
    shared = sum(g.shared_prefix * len(g.prompt_tokens) for g in groups) / n
    notes = [
        f"mean prompt {sum(map(len, ids.values())) / n:.0f} tokens, {shared:.0f} of them shared with the passage's "
        f"other questions; mean {sum(generated.values()) / n:.1f} generated tokens (lorabench); "
        f"{same_tokens}/{n} prompts token-identical; stops {list(STOP_STRINGS[TASK])} + EOS, max {max_new_tokens} new",
    ]
    differ = next((i for i in range(n) if theirs[i] != ours[i]), None)
    if differ is not None:
        notes.append(f"e.g. {records[differ].id}: lm-eval {theirs[differ]!r} vs lorabench {ours[differ]!r}")
    flops = generation_flops(model_shape(loaded.model), groups)
    items = f"{n} questions, {len(groups)} passages"
    return both.result("generation (extractive)", items, f"{same}/{n} identical answers", flops, TARGET, same / n, notes,
                       Outputs("answers", theirs, ours))
