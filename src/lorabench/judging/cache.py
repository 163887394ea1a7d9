"""The judgment cache: one append-only jsonl line per finished judgment, read back on the next call.

A key covers everything a verdict depends on: the judge (model and where it runs), the rubric's
fingerprint, and the item (question, gold, the answer or the ordered pair of answers). Each line is
flushed and fsynced before the next judgment starts, so a kill -9 loses at most the judgment in
flight; a line cut by the kill is skipped on reading and the next append starts a fresh line.
Several processes may share one cache file (a file lock guards each append).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from lorabench.core.errors import LorabenchError
from lorabench.core.notices import Say, warn
from lorabench.results.judged import JudgeCost


JudgePrompt = tuple[str, str]  # (a key naming the judgment, the rendered rubric)


@dataclass(frozen=True)
class Completion:
    """What the judge wrote for one prompt, with its cost."""

    text: str
    tokens_in: int
    tokens_out: int
    seconds: float


def cache_key(judge: str, rubric_sha256: str, question: str, gold: str, answers: tuple[str, ...]) -> str:
    payload = json.dumps([judge, rubric_sha256, question, gold, list(answers)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgmentCache:
    """key -> Completion, backed by `path` (created on the first append)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise LorabenchError.about("judge.cache", f"{self.path} is a folder; give a file name")
        self.entries: dict[str, Completion] = {}
        self.skipped_lines = 0
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self.entries[entry["key"]] = Completion(
                    entry["text"], int(entry["tokens_in"]), int(entry["tokens_out"]), float(entry["seconds"])
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                self.skipped_lines += 1  # a line cut by a kill: its judgment is simply redone

    def get(self, key: str) -> Completion | None:
        return self.entries.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def fill(
        self,
        asks: Iterable[tuple[str, str, dict[str, Any]]],
        complete: Callable[[list[JudgePrompt]], Iterable[tuple[str, Completion]]],
        say: Say,
    ) -> set[str]:
        """Ask `complete` (a judge backend's) every prompt whose key this cache lacks, keeping each
        answer the moment it comes. `asks`: (key, prompt, what to note beside the answer). Returns
        the keys asked now."""
        asks = list(asks)
        todo = {key: (prompt, about) for key, prompt, about in asks if key not in self}
        distinct = len({key for key, _, _ in asks})
        if self.skipped_lines:
            say(warn(f"judge cache {self.path}: {self.skipped_lines} damaged line(s) skipped (a killed run); redone"))
        say(f"judge: {distinct} judgment(s), {distinct - len(todo)} from the cache, {len(todo)} to make")
        for key, completion in complete([(key, prompt) for key, (prompt, _) in todo.items()]):
            self.put(key, completion, todo[key][1])
        return set(todo)

    def cost(self, keys: Iterable[str], fresh: set[str]) -> JudgeCost:
        """What the judgments `keys` name cost: how many distinct ones, and the tokens and judge time
        of those asked now (`fresh`, as `fill` returned them); the others came from this cache."""
        distinct = set(keys)
        made = [self.get(key) for key in distinct if key in fresh]
        return JudgeCost(
            judgments=len(distinct), fresh=len(made), tokens_in=sum(c.tokens_in for c in made if c),
            tokens_out=sum(c.tokens_out for c in made if c), seconds=round(sum(c.seconds for c in made if c), 3),
        )

    def put(self, key: str, completion: Completion, about: dict[str, Any] | None = None) -> None:
        """Append one judgment durably. `about` (judge, rubric, kind) is kept for a human reader."""
        self.entries[key] = completion
        line = json.dumps({"key": key, **asdict(completion), **(about or {})}, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            with open(self.path, "a+b") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":  # the previous writer was killed mid-line
                        handle.write(b"\n")
                handle.write(line.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
