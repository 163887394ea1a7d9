"""How an adapter's training prompts differ from the prompts an evaluation would show it.

An adapter records the prompt settings it was trained with (its lorabench.json). Before anything
is evaluated with it, the run, the `eval` command and a study cell render the items under those
settings and under their own, both fitted to the same model, and find the first line that differs:
the run refuses it unless allow_prompt_change says otherwise, and its format guard words it
(comparison/guards.format_finding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lorabench.data.records import Record
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.build import PromptBuilder, ResolvedPrompt, fit_to_model
from lorabench.prompts.strategy import strategy_prompts

_SHOWN_CHARS = 120  # of a differing line, in messages


def _quoted(line: str) -> str:
    shown = line if len(line) <= _SHOWN_CHARS else line[: _SHOWN_CHARS - 3] + "..."
    return json.dumps(shown, ensure_ascii=False)


@dataclass(frozen=True)
class PromptDifference:
    """Where an item's prompt (or target) under two prompt settings first differs, line by line."""

    record_id: str
    part: str  # "prompt" or "target"
    line: int  # 1-based
    trained: str
    now: str

    def describe(self) -> str:
        return (f"first differing line: trained {_quoted(self.trained)} vs now {_quoted(self.now)} "
                f"(item {self.record_id}, {self.part} line {self.line})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _first_line_difference(record_id: str, part: str, trained: str, now: str) -> PromptDifference | None:
    if trained == now:
        return None
    a, b = trained.split("\n"), now.split("\n")
    index = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return PromptDifference(record_id, part, index + 1, _line(a, index), _line(b, index))


def _line(lines: list[str], index: int) -> str:
    return lines[index] if index < len(lines) else "(no such line: the text ends before it)"


def prompt_difference(
    records: Sequence[Record], tokenizer: Any, train_prompt: PromptSettings, eval_prompt: PromptSettings
) -> PromptDifference | None:
    """The first line in which `records`' prompts (then their targets, which answers are read
    against) differ between the two settings; None when they are all the same. Same strategy only."""
    trained_prompts = strategy_prompts(records, PromptBuilder(tokenizer, train_prompt))
    evaluated_prompts = strategy_prompts(records, PromptBuilder(tokenizer, eval_prompt))
    for trained, evaluated in zip(trained_prompts, evaluated_prompts):
        difference = (_first_line_difference(trained.record_id, "prompt", trained.text, evaluated.text)
                      or _first_line_difference(trained.record_id, "target", trained.target, evaluated.target))
        if difference:
            return difference
    return None


def format_difference(
    records: Sequence[Record], tokenizer: Any, train_prompt: PromptSettings, eval_prompt: PromptSettings
) -> PromptDifference | None:
    """How `records` are prompted under `eval_prompt` unlike under `train_prompt` (both fitted to
    one model): another prompt.strategy (part "prompt.strategy", at the first item), else the first
    differing line (see prompt_difference); None when they are prompted alike."""
    if train_prompt.strategy != eval_prompt.strategy:
        first = records[0].id if records else ""
        return PromptDifference(first, "prompt.strategy", 1, train_prompt.strategy, eval_prompt.strategy)
    return prompt_difference(records, tokenizer, train_prompt, eval_prompt)


def trained_prompt_settings(adapter_dir: Path) -> PromptSettings | None:
    """The prompt settings an adapter was trained with (its lorabench.json), or None for an adapter
    made elsewhere, which records none."""
    meta = adapter_dir / "lorabench.json"
    if not meta.is_file():
        return None
    try:
        return PromptSettings.model_validate(json.loads(meta.read_text(encoding="utf-8"))["prompt"])
    except (KeyError, ValueError, ValidationError) as error:
        raise LorabenchError(f"{meta}: no readable prompt settings ({str(error).splitlines()[0]})") from None


def adapter_prompt_difference(
    adapter_dir: Path, records: Sequence[Record], tokenizer: Any, model: Any, eval_prompt: ResolvedPrompt
) -> PromptDifference | None:
    """How `records` would be prompted differently from the adapter's training, or None: the
    adapter's settings fitted to `model` as training fitted them, against the evaluation's, fitted
    to the same model already."""
    trained = trained_prompt_settings(adapter_dir)
    if trained is None or not records:
        return None
    return format_difference(records, tokenizer, fit_to_model(trained, model, eval_prompt.max_new_tokens), eval_prompt.fitted)


def prompt_change_refusal(adapter_dir: Path, difference: PromptDifference, other_way: str = "") -> LorabenchError:
    """The error that stops an evaluation of an adapter under prompts it was not trained with;
    `other_way`: another way out (a str or a Message), after allow_prompt_change's."""
    return LorabenchError(Message(
        f"prompt settings differ from the adapter's training ({adapter_dir / 'lorabench.json'}): "
        f"{difference.describe()}; pass ", Hint("allow_prompt_change"), " to evaluate anyway", other_way,
    ))
