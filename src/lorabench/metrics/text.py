"""Looser text metrics beside SQuAD's: containment matches, plain token F1, ROUGE-L.

Task scoring (scoring.py) hands every one of them the same normalized text, so that they agree
with exact match on what counts as the same answer; token F1 and ROUGE-L themselves only split
the text they are given into words.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

from rouge_score import rouge_scorer

from lorabench.metrics.squad import answer_tokens, normalize_answer

_PUNCTUATION_RE = re.compile("[" + re.escape(string.punctuation) + "]")


def _contains_tokens(outer: str, inner: str) -> bool:
    """`inner` occurs in `outer` at token boundaries ("1" is not inside "1889")."""
    return bool(inner) and f" {inner} " in f" {outer} "


def is_short(gold: str, short_thresh: int) -> bool:
    return len(answer_tokens(gold)) <= short_thresh


def relaxed_match(prediction: str, golds: list[str], short_thresh: int) -> float:
    """Exact match, or for a short gold (<= short_thresh tokens) either side containing the other.

    Containment is over SQuAD-normalized text at token boundaries, and an empty prediction never
    matches by containment, so "" or "1" cannot pass against "1889".
    """
    pred = normalize_answer(prediction)
    for gold in golds:
        norm = normalize_answer(gold)
        if norm == pred:
            return 1.0
        if pred and norm and is_short(gold, short_thresh):
            if _contains_tokens(pred, norm) or _contains_tokens(norm, pred):
                return 1.0
    return 0.0 if golds else float(pred == "")


def lenient_match(prediction: str, golds: list[str]) -> float:
    """A gold answer appears in the prediction (normalized, at token boundaries)."""
    pred = normalize_answer(prediction)
    if not golds:
        return float(pred == "")
    return float(any(_contains_tokens(pred, normalize_answer(g)) for g in golds))


def plain_tokens(text: str) -> list[str]:
    """Lowercased words without punctuation. Articles are not dropped here: scoring does that, with
    the rest of the task normalization, before calling the metrics."""
    return _PUNCTUATION_RE.sub(" ", text.lower()).split()


def token_f1(prediction: str, golds: list[str]) -> float:
    """F1 over word multisets, best over golds; the usual metric for open-ended answers.

    An empty side scores 1 only when both are empty."""
    pred = plain_tokens(prediction)
    best = 0.0
    for gold in golds or [""]:
        ref = plain_tokens(gold)
        if not ref or not pred:
            best = max(best, float(ref == pred))
            continue
        same = sum((Counter(ref) & Counter(pred)).values())
        if same:
            precision, recall = same / len(pred), same / len(ref)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@lru_cache(maxsize=1)
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, golds: list[str]) -> float:
    """ROUGE-L F-measure from the `rouge-score` package, best over golds.

    Its tokenizer lower-cases and keeps only runs of a-z and 0-9 (letters outside ASCII are lost);
    it keeps articles, hence the normalized input from scoring."""
    scorer = _rouge()
    return max((scorer.score(g, prediction)["rougeL"].fmeasure for g in golds or [""]), default=0.0)
