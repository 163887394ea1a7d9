"""Overlap checks between two record sets (typically train `a` against test `b`).

Three kinds of overlap are leakage, each counted as the number of items in `b` affected:

- same_question: normalized questions are identical. A chat record's question is its earlier
  user and assistant turns followed by its last user message, so two conversations that end in
  the same follow-up ("And in 1990?") are different questions.
- same_context: normalized, non-empty contexts are identical.
- near_duplicate_question: the questions share a word n-gram (default 8 words) after
  normalization, are not already identical, and are similar as word sequences overall
  (difflib ratio >= `similarity`, default 0.9, which a one-word edit of a
  10-word question still reaches). The shared n-gram alone is not enough:
  templated questions ("how long was the trip of <name>") share long runs yet ask about
  different things. Questions shorter than `ngram` words have no n-grams, so they can only
  ever match exactly.

A fourth count, same_id, is reported but is not leakage by itself: a `b` record whose id occurs in
`a` on a record with a different question or context. Ids made per source (`qa_1-0` for the first
pair of every folder's qa_1.json, or row numbers) collide between unrelated sets; a record that
really is in both also has the same question, and is counted as leakage there.

Normalization lowercases, removes punctuation and collapses whitespace, so trivial edits
("What year?" vs "what  year") do not hide a duplicate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from difflib import SequenceMatcher
from dataclasses import dataclass
from typing import Any

from lorabench.data.records import Record
from lorabench.core.errors import LeakageError

KINDS: dict[str, str] = {
    "same_id": "identical ids on different records",
    "same_question": "identical questions",
    "same_context": "identical contexts",
    "near_duplicate_question": "near-duplicate questions",
}
# The kinds that are leakage; same_id is reported apart, as a warning about the ids.
LEAKAGE_KINDS = ("same_question", "same_context", "near_duplicate_question")

_PUNCT = re.compile(r"[^\w\s]|_")
_SNIPPET_CHARS = 60
# A very common n-gram (a template's fixed words) would make every lookup scan all of `a`;
# a true near-duplicate also shares rarer n-grams (its own names and numbers), so a capped
# candidate list per n-gram keeps the check linear without losing it.
_MAX_CANDIDATES_PER_GRAM = 64


@dataclass(frozen=True)
class LeakageExample:
    """One overlapping pair: the `a` record, the `b` record, and a short text showing the overlap."""

    a_id: str
    b_id: str
    snippet: str


@dataclass(frozen=True)
class LeakageFinding:
    """One kind of overlap: how many `b` items it affects and a few example pairs."""

    kind: str
    count: int
    examples: tuple[LeakageExample, ...]


@dataclass(frozen=True)
class LeakageReport:
    """The result of `check_leakage`: one finding per kind, always in the order of `KINDS`."""

    findings: tuple[LeakageFinding, ...]
    size_a: int
    size_b: int
    ngram: int

    @property
    def has_leakage(self) -> bool:
        return any(f.count for f in self.findings if f.kind in LEAKAGE_KINDS)

    @property
    def id_collisions(self) -> int:
        """`b` items whose id names a different record in `a` (not leakage; see the module docstring)."""
        return self.count("same_id")

    def id_collision_warning(self) -> str | None:
        """One line for logs when ids collide, else None."""
        if not self.id_collisions:
            return None
        example = self.examples("same_id")[0].b_id if self.examples("same_id") else None
        shown = f" (e.g. {example!r})" if example else ""
        return (
            f"{self.id_collisions} of {self.size_b} ids also name a different record in the other set{shown}: "
            "not leakage (the contents differ), but the ids do not tell the two sets' records apart"
        )

    def count(self, kind: str) -> int:
        """Affected `b` items for one kind (a key of `KINDS`)."""
        return self._finding(kind).count

    def examples(self, kind: str) -> tuple[LeakageExample, ...]:
        return self._finding(kind).examples

    def _finding(self, kind: str) -> LeakageFinding:
        for finding in self.findings:
            if finding.kind == kind:
                return finding
        raise KeyError(f"unknown leakage kind {kind!r}; expected one of {', '.join(KINDS)}")

    def summary(self) -> str:
        """Human-readable text: a headline, then per kind its count and examples (id collisions last)."""
        if not self.has_leakage:
            lines = [f"No leakage: {self.size_b} items checked against {self.size_a}."]
        else:
            lines = [f"Leakage: {self.size_b} items checked against {self.size_a}."]
        leaks = [f for f in self.findings if f.kind in LEAKAGE_KINDS]
        collisions = [f for f in self.findings if f.kind not in LEAKAGE_KINDS]
        for finding in leaks + collisions:
            if not finding.count:
                continue
            label = KINDS[finding.kind] + ("" if finding.kind in LEAKAGE_KINDS else " (not leakage)")
            if finding.kind == "near_duplicate_question":
                label += f" (shared {self.ngram}-word sequence, similar overall)"
            lines.append(f"  {label}: {finding.count} item(s)")
            for ex in finding.examples:
                lines.append(f"    {ex.b_id} ~ {ex.a_id}: {ex.snippet}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for run manifests and reports."""
        return {
            "size_a": self.size_a,
            "size_b": self.size_b,
            "ngram": self.ngram,
            "has_leakage": self.has_leakage,
            "id_collisions": self.id_collisions,
            "kinds": {
                f.kind: {
                    "count": f.count,
                    "examples": [{"a_id": e.a_id, "b_id": e.b_id, "snippet": e.snippet} for e in f.examples],
                }
                for f in self.findings
            },
        }


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation, collapse whitespace (NFKC first so look-alike forms agree)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCT.sub("", text).split())


def _ngrams(normalized: str, n: int) -> Iterator[str]:
    words = normalized.split()
    for i in range(len(words) - n + 1):
        yield " ".join(words[i : i + n])


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 3] + "...")


class _Collector:
    """Counts affected `b` items for one kind and keeps the first few examples."""

    def __init__(self, kind: str, max_examples: int) -> None:
        self.kind = kind
        self.max_examples = max_examples
        self.count = 0
        self.examples: list[LeakageExample] = []

    def add(self, a_id: str, b_id: str, snippet: str) -> None:
        self.count += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(LeakageExample(a_id=a_id, b_id=b_id, snippet=snippet))

    def finding(self) -> LeakageFinding:
        return LeakageFinding(kind=self.kind, count=self.count, examples=tuple(self.examples))


def _similar(x: str, y: str) -> float:
    return SequenceMatcher(None, x.split(), y.split(), autojunk=False).ratio()


def check_leakage(
    a: Sequence[Record], b: Sequence[Record], ngram: int = 8, max_examples: int = 5, similarity: float = 0.9
) -> LeakageReport:
    """Find items of `b` that overlap `a`, and ids that name different records in the two (see the
    module docstring for the kinds).

    Runs in time linear in the total number of words: `a`'s ids, questions, contexts and
    question n-grams are indexed in dicts (key -> first `a` id), then each `b` item is looked up.
    """
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    if max_examples < 0:
        raise ValueError(f"max_examples must be >= 0, got {max_examples}")

    ids: dict[str, tuple[str, str]] = {}  # id -> the record's normalized (question, context)
    questions: dict[str, str] = {}
    contexts: dict[str, str] = {}
    grams: dict[str, list[tuple[str, str]]] = {}
    for rec in a:
        ids.setdefault(rec.id, _content(rec))
        question = normalize_text(rec.conversation_text)
        if question:
            questions.setdefault(question, rec.id)
            for gram in _ngrams(question, ngram):
                candidates = grams.setdefault(gram, [])
                if len(candidates) < _MAX_CANDIDATES_PER_GRAM:
                    candidates.append((question, rec.id))
        context = normalize_text(rec.context_text)
        if context:
            contexts.setdefault(context, rec.id)

    found = {kind: _Collector(kind, max_examples) for kind in KINDS}
    for rec in b:
        if rec.id in ids and ids[rec.id] != _content(rec):
            found["same_id"].add(rec.id, rec.id, _snippet(rec.question_text))
        question = normalize_text(rec.conversation_text)
        if question and question in questions:
            found["same_question"].add(questions[question], rec.id, _snippet(rec.question_text))
        elif question:
            match = _near_duplicate(question, grams, ngram, similarity)
            if match is not None:
                found["near_duplicate_question"].add(match, rec.id, _snippet(rec.question_text))
        context = normalize_text(rec.context_text)
        if context and context in contexts:
            found["same_context"].add(contexts[context], rec.id, _snippet(rec.context_text))

    return LeakageReport(
        findings=tuple(found[kind].finding() for kind in KINDS),
        size_a=len(a),
        size_b=len(b),
        ngram=ngram,
    )


def _content(record: Record) -> tuple[str, str]:
    return normalize_text(record.conversation_text), normalize_text(record.context_text)


def _near_duplicate(
    question: str, grams: dict[str, list[tuple[str, str]]], ngram: int, similarity: float
) -> str | None:
    """The id of the most similar `a` question sharing an n-gram with `question`, if similar enough."""
    seen: set[str] = set()
    best_score, best_id = similarity, None
    for gram in _ngrams(question, ngram):
        for other, a_id in grams.get(gram, ()):
            if other not in seen:
                seen.add(other)
                score = _similar(question, other)
                if score >= best_score:
                    best_score, best_id = score, a_id
    return best_id


_REMEDY = "Remove the overlapping items, or set data.allow_leakage: true to run anyway."


def ensure_no_leakage(report: LeakageReport, allow: bool, what: str, remedy: str = _REMEDY) -> None:
    """Raise LeakageError describing the overlap, unless there is none or `allow` is set.

    `what` names the comparison for the message, e.g. "train vs test"; `remedy` says what to do.
    """
    if allow or not report.has_leakage:
        return
    # One line, since the CLI prints a LorabenchError as a single line; the full report is in summary().
    parts = []
    for finding in report.findings:
        if finding.count and finding.kind in LEAKAGE_KINDS:
            part = f"{KINDS[finding.kind]}: {finding.count}"
            if finding.examples:
                ex = finding.examples[0]
                part += f" (e.g. {ex.b_id} ~ {ex.a_id}: {ex.snippet})"
            parts.append(part)
    raise LeakageError(
        f"{what}: {report.size_b} items checked against {report.size_a} overlap: {'; '.join(parts)}. {remedy}"
    )
