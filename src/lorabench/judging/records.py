"""What judging leaves in a folder: judgments.jsonl (every judge output, raw, with its cost), judge.json
(the result) and the rubrics as used. Written whole and atomically once judging is done; the cache
is what keeps finished judgments across a kill."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from lorabench.judging.result import JudgeResult, Judgment
from lorabench.judging.rubric import Rubric
from lorabench.runs.folder import read_jsonl, write_atomic, write_json

JUDGMENTS = "judgments.jsonl"
JUDGE_RESULT = "judge.json"


def write_judging(folder: Path, result: JudgeResult, rubrics: Iterable[Rubric]) -> Path:
    """judgments.jsonl, judge.json and the rubric files into `folder`; returns judge.json's path."""
    folder = Path(folder)
    for rubric in rubrics:
        rubric.save(folder)
    write_atomic(folder / JUDGMENTS, "".join(json.dumps(j.to_dict(), ensure_ascii=False) + "\n" for j in result.judgments))
    return write_json(folder / JUDGE_RESULT, result.to_dict())


def read_judging(folder: Path) -> JudgeResult | None:
    """The judge result a folder holds, with its judgments; None when it was not judged."""
    path = Path(folder) / JUDGE_RESULT
    if not path.is_file():
        return None
    judgments_path = Path(folder) / JUDGMENTS
    judgments = [Judgment(**row) for row in read_jsonl(judgments_path)] if judgments_path.is_file() else []
    return JudgeResult.from_dict(json.loads(path.read_text(encoding="utf-8")), judgments)
