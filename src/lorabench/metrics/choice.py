"""Reading a multiple-choice answer out of free text."""

from __future__ import annotations

import re

from lorabench.metrics.squad import normalize_answer

# "B", "(B)", "B)", "B.", "B:", "Answer: B", "The answer is B" -- a lone capital letter as a word.
_LEAD_LABEL = re.compile(r"^\s*[\(\[]?([A-Z])(?:[\)\]\.:,]|\s|$)")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)?\s*[\(\[]?([A-Z])\b", re.IGNORECASE)


def parse_choice(prediction: str, labels: list[str], options: list[str] | None = None) -> str | None:
    """The label a prediction names, or None when it names none (a format violation).

    Tries, in order: a leading label, "answer is X", then the option text itself (exact after
    normalization, else the only option whose text the prediction contains).
    """
    match = _LEAD_LABEL.match(prediction)
    if match and match.group(1) in labels:
        return match.group(1)
    match = _ANSWER_IS.search(prediction)
    if match and match.group(1).upper() in labels:
        return match.group(1).upper()
    if options:
        pred = normalize_answer(prediction)
        normalized = [normalize_answer(o) for o in options]
        if pred in normalized:
            return labels[normalized.index(pred)]
        contained = [label for label, text in zip(labels, normalized) if text and f" {text} " in f" {pred} "]
        if len(contained) == 1:
            return contained[0]
    return None
