"""The entry points: `check_judge` (a run's, before any work) and `judge_answers` (the `judge`
command's and `lorabench.judge`'s). Both open the judge its settings name; `session.judge_with`
judges with it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lorabench.config.judge import JudgeSettings
from lorabench.core.notices import Say, log
from lorabench.judging.backend import JudgeBackend, open_backend
from lorabench.judging.items import JudgeItem
from lorabench.judging.rubric import rubrics_for
from lorabench.judging.session import JudgeSetup, judge_with
from lorabench.core.cache import cache_root
from lorabench.results.judged import JudgeResult

CACHE_FILE = "judge_cache.jsonl"


def cache_path(settings: JudgeSettings, cache_dir: str | None = None) -> Path:
    """judge.cache, else judge_cache.jsonl in lorabench's cache folder (shared by every run)."""
    return Path(settings.cache).expanduser() if settings.cache else cache_root(cache_dir) / CACHE_FILE


def check_judge(settings: JudgeSettings, sides: Sequence[str], cache_dir: str | None = None) -> JudgeSetup:
    """Refuse, before any work, a judge that cannot run: its rubric files, its model's name or file,
    the openai client and the key variable of an endpoint. Nothing is loaded or asked; what was read
    and opened comes back for `judge_with`."""
    return JudgeSetup(settings, cache_path(settings, cache_dir), rubrics_for(settings, sides), open_backend(settings, cache_dir, check=True))


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
    setup = JudgeSetup(settings, cache_path(settings, cache_dir), rubrics_for(settings, sides), backend or open_backend(settings, cache_dir))
    return judge_with(items, sides, setup, out, alpha, say)
