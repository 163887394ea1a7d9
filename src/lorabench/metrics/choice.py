"""Reading a multiple-choice answer out of free text (the rule is in `parse_choice`'s docstring)."""

from __future__ import annotations

import re
from functools import lru_cache

from lorabench.metrics.squad import normalize_answer

_MARKER = r"(?i:\b(?:answer|option|choice)\b(?:\s+(?:is|would\s+be|should\s+be)\b)?)\s*:?[\s*]*"
_STANDING_END = r"(?:[)\]*]|[.:](?![^\W_])|[ \t]*(?:\r?\n|\Z))"


def _standing(labels: list[str]) -> str:
    # Longest first, so that multi-character labels are not cut short by a one-letter prefix.
    names = "|".join(re.escape(label) for label in sorted(set(labels), key=len, reverse=True))
    return rf"[(\[*]{{0,3}}({names}){_STANDING_END}"


@lru_cache(maxsize=64)
def _label_patterns(labels: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(label at the start, label after a marker) for these labels."""
    after_marker = list(labels)
    if all(label.isupper() for label in labels):
        after_marker += [label.lower() for label in labels]  # "Answer: b", see the module docstring
    return re.compile(r"\s*" + _standing(list(labels))), re.compile(_MARKER + _standing(after_marker))


def _label_in(prediction: str, labels: list[str]) -> str | None:
    leading, marked = _label_patterns(tuple(labels))
    found = [m.group(1) for m in marked.finditer(prediction)]
    if found:
        return found[-1] if found[-1] in labels else found[-1].upper()
    match = leading.match(prediction)
    return match.group(1) if match else None


def _spans(tokens: list[str], phrase: list[str]) -> list[tuple[int, int]]:
    width = len(phrase)
    return [(i, i + width) for i in range(len(tokens) - width + 1) if tokens[i : i + width] == phrase]


def _option_named(prediction: str, labels: list[str], options: list[str]) -> str | None:
    """The label of the option the prediction names by its text, or None if none or ambiguous."""
    tokens = normalize_answer(prediction).split()
    phrases = {label: normalize_answer(text).split() for label, text in zip(labels, options)}
    named = {label: _spans(tokens, phrase) for label, phrase in phrases.items() if phrase}
    named = {label: where for label, where in named.items() if where}

    def covers(label: str) -> bool:
        # Every mention of every other named option lies inside a mention of this one.
        return all(
            any(start <= a and b <= end for start, end in named[label])
            for other, where in named.items() if other != label for a, b in where
        )

    covering = [label for label in named if covers(label)]
    return covering[0] if len(covering) == 1 else None


def parse_choice(prediction: str, labels: list[str], options: list[str] | None = None) -> str | None:
    """The label a prediction names, or None when it names none (a format violation).

    A letter counts only where it stands as a label, because the same capitals start ordinary
    sentences ("A lot of people...", "I think it is B") and "a" is an article ("the answer is a dog").

    - Standing as a label: the label, optionally in brackets or markdown bold, followed by the end
      of the text or of its line, by a closing `)`, `]` or `*`, or by `.` or `:` that does not run
      into a letter or digit. So "B", "(B)", "[B]", "**B**", "B)", "B.", "B:", "A. Velmora" and
      "B) Velmora" are labels; "A dog", "B or C", "B because", "A.M." are not. A letter followed by
      a space and a word reads as a sentence or a hedge, for every letter alike: reading "B because"
      but not "A because" would make some options easier to name than others.
    - Where: right after an answer marker ("answer", "answer is", "answer:", "the correct answer
      is", "option", "choice"; any case), else at the very start. The last marked label wins over a
      leading one: "(A) is wrong, the answer is C" is C.
    - Case: labels match as given, so lower-case labels are read only when `labels` holds them
      ("a", "b", ...), and then "B" is not "b". One exception keeps the earlier behaviour: with
      upper-case labels, a lower-case letter standing as a label right after a marker is read as
      its capital ("Answer: b" is B); the standing rule still rejects "the answer is a dog".
    - Otherwise the option named by its text, compared after SQuAD normalization at word
      boundaries: the one option whose mentions in the prediction hold every mention of any other
      option, so an option wins over options inside its own text ("New York City" over "New York"
      in "I live in New York City"). Options named apart ("Velmora or 1842", "the dog ate a hot
      dog"), overlapping or duplicated are ambiguous: None.
    """
    if not labels:
        return None
    label = _label_in(prediction, labels)
    if label is not None:
        return label
    return _option_named(prediction, labels, options) if options else None
