"""judge_answers: the one entry point the pipeline, the `judge` command and `lorabench.judge` use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lorabench.config.judge import JudgeSettings
from lorabench.core.notices import Say, log
from lorabench.judging.backend import JudgeBackend
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


def open_backend(settings: JudgeSettings, cache_dir: str | None = None) -> JudgeBackend:
    """The judge `settings` name; a local model is only loaded once a prompt needs it."""
    if settings.is_endpoint:
        from lorabench.judging.endpoint import EndpointJudge

        return EndpointJudge(settings)
    from lorabench.judging.local import LocalJudge

    return LocalJudge(settings, cache_dir)


def rubrics_for(settings: JudgeSettings, sides: Sequence[str]) -> dict[str, Rubric]:
    rubrics = {"correctness": load_rubric("correctness", settings.correctness_rubric)}
    if settings.preference and len(sides) == 2:
        rubrics["preference"] = load_rubric("preference", settings.preference_rubric)
    return rubrics


def check_judge(settings: JudgeSettings, sides: Sequence[str], cache_dir: str | None = None) -> None:
    """Refuse, before any work, a judge that cannot run: its rubric files, its model's name or file,
    the openai client and the key variable of an endpoint. Nothing is loaded or asked."""
    rubrics_for(settings, sides)
    if settings.is_endpoint:
        from lorabench.judging.endpoint import check_endpoint

        check_endpoint(settings)
    else:
        from lorabench.models.load import resolve_source

        resolve_source(settings.model, cache_dir, settings.revision)


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
    the judge loads."""
    rubrics = rubrics_for(settings, sides)
    cache_file = cache_path(settings, cache_dir)
    backend = backend or open_backend(settings, cache_dir)
    result = judge_items(items, sides, rubrics, backend, cache_file, alpha, say)
    if out is not None:
        write_judging(Path(out), result, rubrics.values())
    return result

