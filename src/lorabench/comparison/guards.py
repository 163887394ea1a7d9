"""Checks against the classic fine-tuning mistakes, run on every pipeline.

Each returns a `Finding` (ok or not, one plain sentence, and numbers) that the pipeline prints
and stores in summary.json. They are pure functions of what is on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safetensors import safe_open

from lorabench.data.records import Record
from lorabench.core.messages import Hint, Message
from lorabench.runs.predictions import PredictionRow, generated
from lorabench.config.prompt import PromptSettings
from lorabench.comparison.prompt_change import PromptDifference, format_difference


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_finding(difference: PromptDifference | None, items: int, allowed: bool = False) -> Finding:
    """The format_mismatch guard of an evaluation on `items` items whose prompts differ from the
    adapter's training ones by `difference` (see format_difference; None: they are the same).
    `allowed`: the user chose to evaluate anyway (allow_prompt_change), which the message says."""
    if difference is None:
        return Finding("format_mismatch", True, f"evaluation prompts equal training prompts on all {items} items")
    anyway = Message("; evaluated anyway, as ", Hint("allow_prompt_change"), " asked") if allowed else ""
    if difference.part == "prompt.strategy":
        return Finding(
            "format_mismatch",
            False,
            Message(f"the adapter was trained with prompt.strategy '{difference.trained}' but is evaluated with "
                    f"'{difference.now}'; the tuned model is tested in a format it never saw", anyway),
            {"train_strategy": difference.trained, "eval_strategy": difference.now},
        )
    return Finding(
        "format_mismatch",
        False,
        Message(f"evaluation prompts differ from the training ones, {difference.describe()}; "
                "the tuned model is tested in a format it never saw", anyway),
        {"record_id": difference.record_id, "difference": difference.to_dict(), "allowed": allowed},
    )


def format_mismatch(
    records: Sequence[Record], tokenizer: Any, train_prompt: PromptSettings, eval_prompt: PromptSettings,
    allowed: bool = False,
) -> Finding:
    """Every evaluation prompt must equal the prompt the adapter was trained with, up to the answer.
    `allowed`: the user chose to evaluate anyway (allow_prompt_change), which the message says."""
    # The same settings and tokenizer render the same prompts, which the evaluation has just built:
    # only settings that differ are worth building every prompt twice more to compare.
    same = train_prompt == eval_prompt
    difference = None if same else format_difference(records, tokenizer, train_prompt, eval_prompt)
    return format_finding(difference, len(records), allowed)


def adapter_is_zero(adapter_dir: Path) -> bool:
    """LoRA's B matrices start at zero: if all still are, the adapter changes nothing."""
    path = adapter_dir / "adapter_model.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        for name in handle.keys():
            if "lora_B" in name and handle.get_tensor(name).abs().max().item() > 0:
                return False
    return True


def adapter_applied(base_rows: Sequence[PredictionRow], tuned_rows: Sequence[PredictionRow], adapter_dir: Path | None) -> Finding:
    if adapter_dir is not None and adapter_is_zero(adapter_dir):
        return Finding("adapter_applied", False, f"every LoRA B matrix in {adapter_dir} is zero: training did not change the adapter")
    tuned = {r["id"]: r.get("raw", r["prediction"]) for r in tuned_rows}
    same = sum(1 for r in base_rows if tuned.get(r["id"]) == r.get("raw", r["prediction"]))
    if base_rows and same == len(base_rows):
        return Finding(
            "adapter_applied",
            False,
            f"tuned answers are identical to base answers on all {same} items: the adapter was probably not loaded",
            {"identical": same},
        )
    return Finding("adapter_applied", True, f"tuned answers differ from base on {len(base_rows) - same} of {len(base_rows)} items", {"identical": same})


# A share of cut answers above this is worth a warning: they score as wrong whatever they said.
CUT_WARN_SHARE = 0.05

GENERATION_GUARDS = ("answers_cut", "eos_learned")


def applicable(findings: Sequence[Any], generated_text: bool) -> list[Any]:
    """The findings (`Finding`s or their dicts) that apply: the generation guards only where answers
    were generated. Also hides them in summaries written before `generation_guards` existed."""
    if generated_text:
        return list(findings)
    return [f for f in findings if (f["name"] if isinstance(f, dict) else f.name) not in GENERATION_GUARDS]


def _cut_share(rows: Sequence[PredictionRow]) -> float:
    return sum(r["hit_max_new_tokens"] for r in rows) / len(rows) if rows else 0.0


def answers_cut(base_rows: Sequence[PredictionRow], tuned_rows: Sequence[PredictionRow], max_new_tokens: int) -> Finding:
    """Answers that hit max_new_tokens may be cut: report the share before and after."""
    base, tuned = _cut_share(base_rows), _cut_share(tuned_rows)
    ok = base <= CUT_WARN_SHARE and tuned <= CUT_WARN_SHARE
    message = f"answers that hit max_new_tokens={max_new_tokens}: base {base:.0%}, tuned {tuned:.0%}"
    if not ok:
        message += "; cut answers score as wrong, so raise decoding.max_new_tokens or check the model stops"
    return Finding("answers_cut", ok, message, {"base_share": base, "tuned_share": tuned})


def eos_learned(base_rows: Sequence[PredictionRow], tuned_rows: Sequence[PredictionRow]) -> Finding:
    """A tuned model that runs to max_new_tokens far more often than base never learned to stop.

    When the tuned model's own cut share is one `answers_cut` warns about, the limit cuts too many
    answers to tell whether it stops on its own: that is a warning too, not an "ok" that contradicts
    the answers_cut line above it.
    """
    base, tuned = _cut_share(base_rows), _cut_share(tuned_rows)
    details = {"base_share": base, "tuned_share": tuned}
    if tuned >= base + 0.2 and tuned >= 2 * base:
        return Finding(
            "eos_learned",
            False,
            f"the tuned model hits max_new_tokens on {tuned:.0%} of items (base {base:.0%}): it did not learn to stop "
            "(check that the EOS after each answer is trained and that pad is not EOS)",
            details,
        )
    if tuned > CUT_WARN_SHARE:
        return Finding(
            "eos_learned",
            False,
            f"not judged: the tuned model hits max_new_tokens on {tuned:.0%} of items (base {base:.0%}), too many cut "
            "answers to tell whether it learned to stop; raise decoding.max_new_tokens and rerun",
            {**details, "judged": False},
        )
    how_often = "more often than base" if tuned < base else "as often as base"
    return Finding("eos_learned", True, f"the tuned model stops on its own {how_often} ({tuned:.0%} vs {base:.0%} cut)", details)


def generation_guards(
    base_rows: Sequence[PredictionRow], tuned_rows: Sequence[PredictionRow], max_new_tokens: int
) -> list[Finding]:
    """`answers_cut` and `eos_learned`, or nothing when neither evaluation generated text."""
    if not (generated(base_rows) or generated(tuned_rows)):
        return []
    return [answers_cut(base_rows, tuned_rows, max_new_tokens), eos_learned(base_rows, tuned_rows)]


def run_guards(
    prompt_change: PromptDifference | None, items: int, adapter_dir: Path,
    base_rows: Sequence[PredictionRow], tuned_rows: Sequence[PredictionRow], max_new_tokens: int,
) -> list[Finding]:
    """A run's guards, base vs tuned on its `items` test items: the adapter's training prompts
    against the evaluation's (`prompt_change`: how they differ, found before the run evaluated by
    `adapter_prompt_difference`, and there only because allow_prompt_change kept that adapter;
    None: the same), the adapter applied, and the generation guards."""
    return [
        format_finding(prompt_change, items, allowed=prompt_change is not None),
        adapter_applied(base_rows, tuned_rows, adapter_dir),
        *generation_guards(base_rows, tuned_rows, max_new_tokens),
    ]
