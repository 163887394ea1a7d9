"""Reading a verdict out of what the judge wrote. Pure functions; nothing is guessed.

The rubrics ask for a last line "Verdict: X". When that line is there, it decides. Without it, a
verdict is read only when the whole output names exactly one of the labels (small judges often
answer with the bare word); anything else is unparseable, counted and shown, never dropped or
coerced into a label.
"""

from __future__ import annotations

import re
from typing import Literal

Grade = Literal["correct", "incorrect", "not_attempted"]
Preference = Literal["A", "B", "tie"]
UNPARSEABLE = "unparseable"

# Longest alternatives first: "incorrect" contains "correct", "not correct" means incorrect.
_GRADE_WORDS = re.compile(
    r"\b(not[\s_-]*attempted|not[\s_-]+correct|incorrect|correct)\b", re.IGNORECASE
)
_VERDICT_LINE = re.compile(r"^\W*verdict\W*\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_PREFERENCE_WORDS = re.compile(r"(?<![A-Za-z])(tie|A|B)(?![A-Za-z])", re.IGNORECASE)


def _grade_of(word: str) -> Grade:
    word = re.sub(r"[\s_-]+", " ", word.lower())
    if word == "not attempted":
        return "not_attempted"
    return "correct" if word == "correct" else "incorrect"


def _verdict_text(output: str) -> str | None:
    """What follows the last "Verdict:" line, when the output has one."""
    lines = _VERDICT_LINE.findall(output)
    return lines[-1].strip() if lines else None


def parse_grade(output: str) -> Grade | None:
    """correct / incorrect / not_attempted, or None when the output does not say one clearly."""
    verdict = _verdict_text(output)
    text = verdict if verdict is not None else output
    grades = {_grade_of(m.group(1)) for m in _GRADE_WORDS.finditer(text)}
    return grades.pop() if len(grades) == 1 else None


def parse_preference(output: str) -> Preference | None:
    """A, B or tie, or None. Without a verdict line, only a bare answer ("A", "Tie.") counts:
    the letters A and B occur in ordinary prose ("a better answer")."""
    verdict = _verdict_text(output)
    if verdict is None:
        bare = output.strip().strip(".*:()[] ").strip()
        verdict = bare if len(bare.split()) <= 2 else ""
    # Case-sensitive letters (an article "a" is not a verdict), any case for "tie".
    found = {m.group(1).upper() if m.group(1).lower() != "tie" else "tie"
             for m in _PREFERENCE_WORDS.finditer(verdict) if m.group(1) in ("A", "B") or m.group(1).lower() == "tie"}
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]


def reason(output: str) -> str:
    """The judge's reasoning: its output without the verdict line, for the per-item view."""
    kept = [line for line in output.strip().splitlines() if not _VERDICT_LINE.match(line)]
    return "\n".join(kept).strip()
