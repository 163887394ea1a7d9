"""Reading a verdict out of what the judge wrote. Pure functions; nothing is guessed.

The rubrics ask for the verdict alone on the first line ("CORRECT", "B"), then a reason. In order:
a "Verdict: X" line decides when there is one (some judges write it anyway, the last one counts);
else a first line that is a label, alone or followed by punctuation ("INCORRECT - it names Rome");
else, for grades, an output that names exactly one label anywhere ("The answer is correct.").
Anything else is unparseable: counted and shown, never dropped or coerced into a label.
"""

from __future__ import annotations

import re
from typing import Literal

from lorabench.judging.cache import Completion
from lorabench.results.judged import Check, Judgment

Grade = Literal["correct", "incorrect", "not_attempted"]
Preference = Literal["A", "B", "tie"]
UNPARSEABLE = "unparseable"

# Longest alternatives first: "incorrect" contains "correct", "not correct" means incorrect.
_GRADE = r"not[\s_-]*attempted|not[\s_-]+correct|incorrect|correct"
_GRADE_WORDS = re.compile(rf"\b({_GRADE})\b", re.IGNORECASE)
_VERDICT_LINE = re.compile(r"^\W*verdict\W*\s*(.*)$", re.IGNORECASE | re.MULTILINE)
# A label alone on its line, or followed by punctuation and a reason; never the first word of a sentence.
_LEADING_GRADE = re.compile(rf"^[\W_]*({_GRADE})[\W_]*(?:$|[:.,;!)\-–—]\s*(.*))", re.IGNORECASE)
_LEADING_PREFERENCE = re.compile(r"^[\W_]*(A|B|[Tt]ie|TIE)[\W_]*(?:$|[:.,;!)\-–—]\s*(.*))")
_PREFERENCE_WORDS = re.compile(r"(?<![A-Za-z])(A|B|[Tt]ie|TIE)(?![A-Za-z])")


def _grade_of(word: str) -> Grade:
    word = re.sub(r"[\s_-]+", " ", word.lower())
    if word == "not attempted":
        return "not_attempted"
    return "correct" if word == "correct" else "incorrect"


def _preference_of(word: str) -> Preference:
    return "tie" if word.lower() == "tie" else word  # type: ignore[return-value]


def _verdict_text(output: str) -> str | None:
    """What follows the last "Verdict:" line, when the output has one."""
    lines = _VERDICT_LINE.findall(output)
    return lines[-1].strip() if lines else None


def _first_line(output: str) -> str:
    return next((line.strip() for line in output.splitlines() if line.strip()), "")


def parse_grade(output: str) -> Grade | None:
    """correct / incorrect / not_attempted, or None when the output does not say one clearly."""
    verdict = _verdict_text(output)
    if verdict is None:
        leading = _LEADING_GRADE.match(_first_line(output))
        if leading:
            return _grade_of(leading.group(1))
    grades = {_grade_of(m.group(1)) for m in _GRADE_WORDS.finditer(verdict if verdict is not None else output)}
    return grades.pop() if len(grades) == 1 else None


def parse_preference(output: str) -> Preference | None:
    """A, B or tie, or None. The letters only count as a verdict line's content or as a first line of
    their own: "A" and "B" occur in ordinary prose ("A better answer would ...")."""
    verdict = _verdict_text(output)
    if verdict is None:
        leading = _LEADING_PREFERENCE.match(_first_line(output))
        return _preference_of(leading.group(1)) if leading else None
    found = {_preference_of(m.group(1)) for m in _PREFERENCE_WORDS.finditer(verdict)}
    return found.pop() if len(found) == 1 else None


def reason(output: str) -> str:
    """The judge's reasoning: its output without the verdict (a verdict line, or the label that
    opens the first line), for the per-item view."""
    lines = [line for line in output.strip().splitlines() if not _VERDICT_LINE.match(line)]
    if lines:
        leading = _LEADING_GRADE.match(lines[0].strip()) or _LEADING_PREFERENCE.match(lines[0].strip())
        if leading:
            lines[0] = leading.group(2) or ""
    return "\n".join(lines).strip()


def read_judgment(completion: Completion, check: Check, item_id: str, subject: str, answers: list[str], cached: bool) -> Judgment:
    """What the judge wrote for one `check` of one item, kept whole as a Judgment: the verdict read
    from it (UNPARSEABLE when it gives none), its reason, and its cost (`cached`: none was paid now)."""
    parsed = parse_grade(completion.text) if check == "correctness" else parse_preference(completion.text)
    return Judgment(
        id=item_id, check=check, subject=subject, answers=answers, verdict=parsed or UNPARSEABLE,
        reason=reason(completion.text), raw=completion.text, tokens_in=completion.tokens_in,
        tokens_out=completion.tokens_out, seconds=completion.seconds, cached=cached,
    )
