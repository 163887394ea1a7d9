"""What judging leaves in a folder: judgments.jsonl (every judge output, raw, with its cost), judge.json
(the result) and the rubrics as used. Written whole and atomically once judging is done; the cache
is what keeps finished judgments across a kill. `JudgeResult.read` reads them back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from lorabench.judging.rubric import Rubric
from lorabench.results.judged import JUDGE_RESULT, JUDGMENTS, JudgeResult
from lorabench.runs.folder import write_atomic, write_json


def save_rubric(folder: Path, rubric: Rubric) -> Path:
    """The rubric as used, into the folder (the record of what the judge was told)."""
    return write_atomic(Path(folder) / rubric.file_name, rubric.text)


def write_judging(folder: Path, result: JudgeResult, rubrics: Iterable[Rubric]) -> Path:
    """judgments.jsonl, judge.json and the rubric files into `folder`; returns judge.json's path."""
    folder = Path(folder)
    for rubric in rubrics:
        save_rubric(folder, rubric)
    write_atomic(folder / JUDGMENTS, "".join(json.dumps(j.to_dict(), ensure_ascii=False) + "\n" for j in result.judgments))
    return write_json(folder / JUDGE_RESULT, result.to_dict())
