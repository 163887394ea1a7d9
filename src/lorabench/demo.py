"""`lorabench demo` / `make demo`: the main job on embedded data, end to end, with no network.

Until model evaluation lands, the demo scores a lexical baseline (no model) on synthetic
extractive QA: generate data, split it by context, check for leakage, predict, score.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rich.console import Console

from lorabench.data.leakage import check_leakage, ensure_no_leakage
from lorabench.data.records import ExtractiveRecord, save_records
from lorabench.data.splits import split_records
from lorabench.data.synth import synthesize
from lorabench.metrics.squad import answer_tokens
from lorabench.report.console import metrics_table
from lorabench.scorefile import score_file, write_metrics

_CANDIDATE = re.compile(r"(?:[A-Z][\w'-]*(?:\s+(?:of|the|de)?\s*[A-Z][\w'-]*)*)|\d[\d,]*(?:\.\d+)?")


def lexical_baseline(record: ExtractiveRecord) -> str:
    """Pick, in the sentence that shares most words with the question, the name or number the question lacks.

    A reference point any fine-tune should beat; it reads no model.
    """
    question_words = set(answer_tokens(record.question))
    sentences = re.split(r"(?<=[.!?])\s+", record.context)
    best = max(sentences, key=lambda s: len(question_words & set(answer_tokens(s))))
    candidates = [c.strip() for c in _CANDIDATE.findall(best)]
    fresh = [c for c in candidates if not set(answer_tokens(c)) <= question_words]
    return (fresh or candidates or [""])[0]


def run_demo(out: Path, console: Console, n: int = 300, seed: int = 0) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    records = synthesize("extractive", n, seed)
    splits = split_records(records, test=0.3, seed=seed)
    console.print(f"synthetic extractive QA: {splits.summary()}")
    report = check_leakage(splits.train, splits.test)
    ensure_no_leakage(report, allow=False, what="train vs test")
    console.print("leakage check train vs test: clean")
    save_records(splits.train, out / "train.jsonl")
    save_records(splits.test, out / "test.jsonl")

    predictions = out / "predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as handle:
        for record in splits.test:
            assert isinstance(record, ExtractiveRecord)
            row = {"id": record.id, "question": record.question, "gold": record.answers, "prediction": lexical_baseline(record)}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    result = score_file(predictions, "extractive")
    write_metrics(result, out, predictions)
    console.print(metrics_table(result.metrics, title="lexical baseline on held-out synthetic QA (%, 95% CI)"))
    console.print(f"run folder: {out.resolve()}")
    return out
