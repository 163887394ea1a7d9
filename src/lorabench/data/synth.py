"""Synthetic tasks about an invented world, so that no pretrained model already knows the answers.

Every person, town, river and society is built from syllables, and every year and count is drawn
at random, so a model can only answer from the passage (or from what fine-tuning taught it).
Output depends only on (task, n, seed): one `random.Random(seed)` drives everything, and no
string hashing or set ordering is involved, so files are identical across runs and machines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from lorabench.data.records import Record, TaskKind, save_records
from lorabench.core.kinds import get_task

_SYLLABLES = (
    "vel", "mor", "tar", "quin", "os", "bre", "vik", "dra", "lun", "sel", "ka", "rin", "tho",
    "zen", "wen", "gor", "ul", "pra", "cor", "val", "ess", "dun", "mir", "ysk", "bel", "oth",
)
_SURNAME_ENDS = ("et", "ik", "ard", "ow", "en", "is")
_TOWN_ENDS = ("mora", "holt", "by", "stead", "ane", "vik")
_RIVER_ENDS = ("a", "e", "in", "esh")
_ORG_KINDS = ("Guild", "Company", "Society", "Circle", "League", "Assembly")
PROFESSIONS = ("cartographer", "clockmaker", "glassblower", "shipwright", "bookbinder", "beekeeper")
_CRAFTS = ("instrument makers", "river pilots", "weavers", "stonecutters", "lamp makers", "rope makers")
THINGS = ("tide clock", "glass loom", "salt engine", "wind ledger", "lantern press", "star compass",
           "rope organ", "water abacus")
ITEMS = ("dromberries", "sellow plums", "varnick stones", "ombrel feathers", "quellnuts",
          "tassen cakes", "glimmel beads")

# Syllable names can collide with English; such words would make a "fictional" answer guessable.
_REAL_WORDS = frozenset(
    "about after also area back bell belly boss cork corn core dune dunes dragon drake essay gore "
    "gory kara karin less lunar mire mirror mora moral more morrow oslo ostrich other otherwise "
    "prank pray prayer quint quinta rink selva sell seller tar tara taro tarot thor thorn ulcer "
    "valet valor valve velvet viking wend went zen vale bellow bello velo dunk dunce".split()
)

_PERSON_KEYS = ("P", "Q", "Z")
KIND_OF_KEY = {
    "P": "person", "Q": "person", "Z": "person", "T": "place", "V": "place", "D": "place",
    "R": "river", "O": "org", "O2": "org", "Y1": "year", "Y2": "year", "N1": "number",
    "N2": "number", "X": "thing", "prof": "profession",
}


@dataclass(frozen=True)
class _Topic:
    """One kind of sentence: text variants, the facts it states, and a one-line summary."""

    texts: tuple[str, ...]
    facts: tuple[tuple[str, tuple[str, ...]], ...]  # (answer key, question templates)
    summary: str
    instructions: tuple[str, ...]
    category: str


# Full names are repeated in every sentence (no pronouns) so any order of sentences reads correctly.
TOPICS: dict[str, _Topic] = {
    "origin": _Topic(
        ("{P} grew up in {T}, a small town on the banks of the {R} river, where most families "
         "worked the ferries and the orchards.",
         "The town of {T}, which sits beside the {R} river, is where {P} was raised by an aunt "
         "who kept bees and mended fishing nets."),
        (("T", ("Where did {P} grow up?", "In which town was {P} raised?", "What town did {P} grow up in?")),
         ("R", ("Which river runs past {T}?", "On which river does {T} stand?", "What river is {T} built beside?"))),
        "{P} grew up in {T}, a town on the {R} river.",
        ("Describe where {P} grew up.", "Where was {P} raised, according to the passage?"),
        "closed_qa",
    ),
    "founding": _Topic(
        ("In {Y1}, {P} founded the {O}, a society of {craft} that met every winter in a rented "
         "hall above a bakery.",
         "After years of arguing that {craft} needed a place to share their work, {P} established "
         "the {O} in {Y1}."),
        (("Y1", ("In what year did {P} found the {O}?", "When was the {O} founded?", "What year saw the founding of the {O}?")),
         ("O", ("What did {P} found in {Y1}?", "Which society did {P} establish?", "What was the name of the society {P} founded?"))),
        "{P} founded the {O}, a society of {craft}, in {Y1}.",
        ("What society did {P} found, and when?", "Extract the name and founding year of the society {P} started."),
        "information_extraction",
    ),
    "members": _Topic(
        ("By the end of its first decade, the {O} counted {N1} members spread across the northern "
         "valleys and the coast.",
         "The {O} grew quickly and had {N1} members within ten years, most of them apprentices "
         "from nearby villages."),
        (("N1", ("How many members did the {O} have after its first decade?", "What was the membership of the {O} after ten years?",
                 "How many people had joined the {O} within ten years?")),),
        "Within ten years the {O} had {N1} members.",
        ("How large did the {O} grow in its first ten years?",),
        "information_extraction",
    ),
    "thing": _Topic(
        ("{P} is best remembered for building the first {X}, a device that still stands in a "
         "market square and draws curious visitors.",
         "Of everything {P} made, the {X} became the most famous, and copies of it were soon "
         "found in every harbour along the coast."),
        (("X", ("What is {P} best remembered for building?", "Which device made {P} famous?", "What invention is {P} known for?")),),
        "{P} is best known for the {X}.",
        ("What is {P} best known for?", "Name the device most associated with {P}."),
        "closed_qa",
    ),
    "mentor": _Topic(
        ("As a young apprentice, {P} trained under {Q}, a {prof} from {V} who demanded that every "
         "measurement be taken twice.",
         "{P} learned the trade from {Q}, a {prof} who had left {V} with little more than a "
         "satchel of worn tools."),
        (("Q", ("Who trained {P}?", "Under whom did {P} learn the trade?", "Who was the teacher of {P}?")),
         ("V", ("Where did {Q} come from?", "What was the home town of {Q}?", "{Q} came from which town?")),
         ("prof", ("What was the profession of {Q}?", "What trade did {Q} follow?"))),
        "{P} was trained by {Q}, a {prof} from {V}.",
        ("Who taught {P}, and where was that teacher from?", "Describe the teacher of {P}."),
        "closed_qa",
    ),
    "journey": _Topic(
        ("In {Y2}, {P} travelled to {D}, a journey of {N2} days by cart and river barge through "
         "the autumn rains.",
         "{P} spent {N2} days on the road to {D} in {Y2}, carrying letters, spare parts and a "
         "crate of dried fruit."),
        (("D", ("Where did {P} travel in {Y2}?", "What was the destination of the journey {P} made in {Y2}?")),
         ("N2", ("How many days did the journey to {D} take?", "How long, in days, was the trip of {P} to {D}?")),
         ("Y2", ("In what year did {P} travel to {D}?", "When did {P} make the journey to {D}?"))),
        "In {Y2}, {P} travelled to {D}, a journey of {N2} days.",
        ("Where did {P} travel, when, and for how long?", "Extract the destination, year and length of the journey by {P}."),
        "information_extraction",
    ),
    "rival": _Topic(
        ("The fiercest rival of {P} was {Z}, who led the {O2} and publicly mocked every new "
         "design that came out of the workshop.",
         "For many years {Z}, the head of the {O2}, competed with {P} for the same patrons, "
         "workshops and apprentices."),
        (("Z", ("Who was the fiercest rival of {P}?", "Which person competed with {P} for patrons?", "Who was the main rival of {P}?")),
         ("O2", ("Which group did {Z} lead?", "What organisation was headed by {Z}?"))),
        "The main rival of {P} was {Z}, head of the {O2}.",
        ("Who was the rival of {P}?", "Summarise what the passage says about the rival of {P}."),
        "closed_qa",
    ),
}
_TOPIC_ORDER = tuple(TOPICS)  # dict order is insertion order, so sampling from it is deterministic


class Namer:
    """Invents syllable names, never repeating one within a passage and never a common word."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: list[str] = []

    def _fresh(self, make) -> str:
        while True:
            name = make()
            words = name.lower().split()
            # Doubled vowels ("Gorpraa") and tripled letters ("Essselen") read as typos, not names.
            low = name.lower()
            awkward = any(v + v in low for v in "aeiouy") or any(a == b == c for a, b, c in zip(low, low[1:], low[2:]))
            if name not in self.used and not awkward and not any(w in _REAL_WORDS for w in words):
                self.used.append(name)
                return name

    def _stem(self, syllables: int) -> str:
        # Distinct syllables avoid stutters such as "Tartar".
        return "".join(self.rng.sample(_SYLLABLES, syllables)).capitalize()

    def person(self) -> str:
        return self._fresh(lambda: f"{self._stem(2)} {self._stem(self.rng.randint(1, 2))}{self.rng.choice(_SURNAME_ENDS)}")

    def place(self) -> str:
        return self._fresh(lambda: self._stem(self.rng.randint(1, 2)) + self.rng.choice(_TOWN_ENDS))

    def river(self) -> str:
        return self._fresh(lambda: self._stem(2) + self.rng.choice(_RIVER_ENDS))

    def org(self) -> str:
        return self._fresh(lambda: f"{self._stem(2)}{self.rng.choice(_SURNAME_ENDS)} {self.rng.choice(_ORG_KINDS)}")


def _cast(rng: random.Random, namer: Namer) -> dict[str, str]:
    """The entities and numbers one passage talks about, keyed by their template field."""
    year = rng.randint(1420, 1860)
    return {
        "P": namer.person(), "Q": namer.person(), "Z": namer.person(),
        "T": namer.place(), "V": namer.place(), "D": namer.place(), "R": namer.river(),
        "O": namer.org(), "O2": namer.org(), "Y1": str(year), "Y2": str(year + rng.randint(3, 30)),
        "N1": str(rng.randint(24, 480)), "N2": str(rng.randint(3, 40)),
        "X": rng.choice(THINGS), "prof": rng.choice(PROFESSIONS), "craft": rng.choice(_CRAFTS),
    }


@dataclass(frozen=True)
class Passage:
    cast: dict[str, str]
    topics: list[str]
    text: str
    facts: list[tuple[str, str]]  # (answer key, question), each answer exactly once in the text


def passage(rng: random.Random, sentences: tuple[int, int], words: tuple[int, int] = (60, 150)) -> Passage:
    """A passage of shuffled topic sentences, keeping only facts whose answer is an unambiguous span."""
    for _ in range(1000):
        namer = Namer(rng)
        cast = _cast(rng, namer)
        topics = rng.sample(_TOPIC_ORDER, rng.randint(*sentences))
        text = " ".join(rng.choice(TOPICS[t].texts).format(**cast) for t in topics)
        if not words[0] <= len(text.split()) <= words[1]:
            continue
        facts = []
        for topic in topics:
            for key, questions in TOPICS[topic].facts:
                # A span found twice (e.g. a name reused, "17" inside "1712") would make the gold ambiguous.
                if text.count(cast[key]) == 1:
                    facts.append((key, rng.choice(questions).format(**cast)))
        if len(facts) >= 3:
            return Passage(cast, topics, text, facts)
    raise RuntimeError("synth: could not build a passage with three unambiguous facts")


# Sentences and words per passage. Short passages halve the prompt, which is what CPU time is spent on.
PASSAGE_SHAPE = {False: ((3, 6), (60, 150)), True: ((2, 3), (20, 80))}


def synthesize(task: TaskKind | str, n: int, seed: int = 0, short_passages: bool = False) -> list[Record]:
    """Exactly `n` validated records of `task` about a fictional world; same (task, n, seed), same output.

    For extractive, `n` counts questions; passages carry 3-8 each, and the last may carry fewer.
    `short_passages` (extractive only) makes passages of 2-3 sentences and 20-80 words instead of
    3-6 sentences and 60-150 words.
    """
    try:
        kind = TaskKind(task)
    except ValueError:
        raise ValueError(f"synthesize: unknown task {task!r}; expected one of {[k.value for k in TaskKind]}") from None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"synthesize: n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"synthesize: seed must be an integer, got {seed!r}")
    # The task is mixed into the seed so that, say, choice and extractive data made with the same
    # seed do not share passages. String seeds go through SHA-512, not hash(), so this is stable.
    # The seed is part of every id, so sets made with different seeds can be mixed without id clashes.
    rng = random.Random(f"lorabench-synth:{kind.value}:{seed}")
    task = get_task(kind)
    if task.passage_lengths:
        return task.synthesize(rng, n, f"s{seed}", short_passages)
    if short_passages:
        raise ValueError("synthesize: short_passages applies to extractive data only")
    return task.synthesize(rng, n, f"s{seed}")


def write_synth(task: TaskKind | str, n: int, seed: int, path: str | Path, short_passages: bool = False) -> Path:
    """Synthesize and save as canonical JSON Lines; returns the written path."""
    return save_records(synthesize(task, n, seed, short_passages), path)
