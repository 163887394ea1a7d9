"""judge_answers: the one entry point the pipeline, the `judge` command and `lorabench.judge` use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lorabench.config.judge import JudgeSettings
from lorabench.core.notices import Say, log
from lorabench.judging.backend import JudgeBackend, open_backend
from lorabench.judging.items import JudgeItem
from lorabench.judging.records import write_judging
from lorabench.results.judged import JudgeResult
from lorabench.judging.rubric import Rubric, load_rubric
from lorabench.judging.session import judge_items
from lorabench.models.gguf import cache_root

CACHE_FILE = "judge_cache.jsonl"


def cache_path(settings: JudgeSettings, cache_dir: str | None = None) -> Path:
    """judge.cache, else judge_cache.jsonl in lorabench's cache folder (shared by every run)."""
    return Path(settings.cache).expanduser() if settings.cache else cache_root(cache_dir) / CACHE_FILE


@dataclass(frozen=True)
class JudgeSetup:
    """A judge as `check_judge` found it, for the judging to use rather than read and open again:
    its settings, its rubrics and its backend (a local model is only loaded once a prompt needs it)."""

    settings: JudgeSettings
    rubrics: dict[str, Rubric]
    backend: JudgeBackend


def rubrics_for(settings: JudgeSettings, sides: Sequence[str]) -> dict[str, Rubric]:
    rubrics = {"correctness": load_rubric("correctness", settings.correctness_rubric)}
    if settings.preference and len(sides) == 2:
        rubrics["preference"] = load_rubric("preference", settings.preference_rubric)
    return rubrics


def check_judge(settings: JudgeSettings, sides: Sequence[str], cache_dir: str | None = None) -> JudgeSetup:
    """Refuse, before any work, a judge that cannot run: its rubric files, its model's name or file,
    the openai client and the key variable of an endpoint. Nothing is loaded or asked; what was read
    and opened comes back for `judge_with`."""
    return JudgeSetup(settings, rubrics_for(settings, sides), open_backend(settings, cache_dir, check=True))


def judge_answers(
    items: Sequence[JudgeItem],
    sides: Sequence[str],
    settings: JudgeSettings,
    out: Path | None = None,
    cache_dir: str | None = None,
    alpha: float = 0.05,
    say: Say = log,
    backend: JudgeBackend | None = None,
) -> JudgeResult:
    """Judge `items` (answers of one side, or of base then tuned) and, with `out`, leave
    judgments.jsonl, judge.json and the rubrics there. Rubrics are read (and refused) before
    the judge loads; a given `backend` (a scripted judge, or one opened already) is used as it is."""
    rubrics = rubrics_for(settings, sides)
    return judge_with(items, sides, JudgeSetup(settings, rubrics, backend or open_backend(settings, cache_dir)), out, cache_dir, alpha, say)


def judge_with(
    items: Sequence[JudgeItem],
    sides: Sequence[str],
    setup: JudgeSetup,
    out: Path | None = None,
    cache_dir: str | None = None,
    alpha: float = 0.05,
    say: Say = log,
) -> JudgeResult:
    """`judge_answers` with the rubrics read and the judge opened already (a run checks its judge
    before any work, see `check_judge`, and judges with what the check found)."""
    cache_file = cache_path(setup.settings, cache_dir)
    result = judge_items(items, sides, setup.rubrics, setup.backend, cache_file, alpha, say)
    if out is not None:
        write_judging(Path(out), result, setup.rubrics.values())
    return result
