"""The prediction row: one evaluated item, as `predictions.jsonl` holds it.

Rows are JSON objects on disk and plain dicts in memory (reports, tests and users' scripts read
them as such); `PredictionRow` types their fields. Every row is written by `dump_row` and read by
`parse_row`, which also loads rows of older lorabench versions: fields they lack are filled with
what those versions meant by leaving them out, so no reader needs its own fallback.
"""

# No `from __future__ import annotations`: TypedDict reads NotRequired off evaluated annotations.
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typing_extensions import NotRequired, TypedDict  # NotRequired is in typing from 3.11; lorabench supports 3.10

from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message


class CostFields(TypedDict):
    """A question's share of what answering its context cost (strategies.accounting)."""

    strategy: str  # single | batch | sequential
    questions_in_context: int
    prompt_tokens_per_question: float
    generated_tokens_per_question: float
    api_prompt_tokens: float
    latency_per_question_s: float


class PredictionRow(TypedDict):
    id: str
    prompt: str  # exactly what the model read
    gold: list[str]
    prediction: str  # the answer as scored (a label for multiple choice)
    scores: dict[str, float]  # every metric of the task for this item
    prompt_tokens: int
    generated_tokens: int
    latency_s: float
    hit_max_new_tokens: bool
    stop_reason: str | None  # eos | stop_string | max_new_tokens; the choice mode for scored options
    prompt_shortened: bool
    # Generated answers:
    raw: NotRequired[str]  # the generation before stop strings and answer extraction
    strategy: NotRequired[str]
    questions_in_context: NotRequired[int]
    prompt_tokens_per_question: NotRequired[float]
    generated_tokens_per_question: NotRequired[float]
    api_prompt_tokens: NotRequired[float]
    latency_per_question_s: NotRequired[float]
    parse_failure: NotRequired[bool]  # the batch strategy found no numbered answer for the question
    parse_error: NotRequired[str | None]
    parse_extra_lines: NotRequired[int]
    # Multiple choice scored without generation:
    letter_logprob: NotRequired[dict[str, float]]
    option_logprob: NotRequired[dict[str, float]]
    option_tokens: NotRequired[list[int]]


# A finished run's rows must carry these; resuming needs only the id of what is done.
_SCORED = ("id", "gold", "prediction", "scores")
# What a field that older versions did not write meant: nothing cut, nothing shortened, no reason known.
_LEGACY_DEFAULTS: dict[str, Any] = {
    "prompt": "",
    "prompt_tokens": 0,
    "generated_tokens": 0,
    "latency_s": 0.0,
    "hit_max_new_tokens": False,
    "stop_reason": None,
    "prompt_shortened": False,
}


# Choice rows answered by scoring the options (not by generating text) carry their choice_mode as
# stop_reason; nothing was generated for them, so nothing can be cut or fail to stop.
SCORED_STOP_REASONS = frozenset({"logprob", "letter"})


def generated(rows: Sequence[PredictionRow]) -> bool:
    """Whether an evaluation produced its answers by generating text, so that max_new_tokens,
    stopping and generated-token counts mean something (not so for log-prob or letter choice)."""
    return any(r["stop_reason"] not in SCORED_STOP_REASONS for r in rows)


def dump_row(row: PredictionRow) -> str:
    """One line of predictions.jsonl."""
    return json.dumps(row, ensure_ascii=False) + "\n"


def parse_row(line: str, where: str, required: tuple[str, ...] = ("id",)) -> PredictionRow:
    """A row from one line of predictions.jsonl; `where` (file:line) names it in errors.

    Raises json.JSONDecodeError for a line that is not JSON (callers decide whether a cut last
    line is redone or the file is damaged) and LorabenchError for JSON that is not a row.
    """
    raw = json.loads(line)
    if not isinstance(raw, dict):
        raise LorabenchError(Message(f"{where}: not a prediction row (a JSON object); the run is damaged, rerun it with ",
                                     Hint("force")))
    missing = [name for name in required if name not in raw]
    if missing:
        raise LorabenchError(Message(f"{where}: prediction row without {', '.join(missing)}; the run is damaged, "
                                     "rerun it with ", Hint("force")))
    if "scores" in required and not isinstance(raw["scores"], dict):
        raise LorabenchError(f"{where}: scores: expected an object of metric values")
    raw["id"] = str(raw["id"])
    for name, value in _LEGACY_DEFAULTS.items():
        raw.setdefault(name, value)
    return raw  # type: ignore[return-value]  # a resumed row's other fields are checked when the run is read


def read_predictions(path: Path) -> list[PredictionRow]:
    """Every row of a finished run's predictions.jsonl; a damaged line is an error naming it."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(parse_row(line, f"{path}:{number}", _SCORED))
        except json.JSONDecodeError:
            raise LorabenchError(f"{path}:{number}: not a JSON line; the run is damaged, rerun it") from None
    return rows
