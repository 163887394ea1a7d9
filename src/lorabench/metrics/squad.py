"""SQuAD exact match and F1, as the official evaluation scripts define them.

v1.1: lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace; F1 over the
multiset of tokens; the best score over all gold answers. v2.0 adds unanswerable questions: their
gold is the empty string, and only an empty prediction scores (EM 1, F1 1).
"""

from __future__ import annotations

import re
import string
from collections import Counter

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Official SQuAD normalization, same order of steps as the v1.1 script."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def _exact(gold: str, prediction: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(prediction))


def _f1(gold: str, prediction: str) -> float:
    gold_tokens = answer_tokens(gold)
    pred_tokens = answer_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        # v2.0 rule: with an empty side, F1 is 1 only when both are empty.
        return float(gold_tokens == pred_tokens)
    common = Counter(gold_tokens) & Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _golds_or_empty(golds: list[str]) -> list[str]:
    # v2.0: answers that normalize to nothing do not count; no answers at all means "unanswerable".
    kept = [g for g in golds if normalize_answer(g)]
    return kept or [""]


def exact_match(prediction: str, golds: list[str]) -> float:
    return max(_exact(g, prediction) for g in _golds_or_empty(golds))


def f1_score(prediction: str, golds: list[str]) -> float:
    return max(_f1(g, prediction) for g in _golds_or_empty(golds))
