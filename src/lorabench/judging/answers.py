"""judge_answers: the one entry point the pipeline, the `judge` command and `lorabench.judge` use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from lorabench.models.load import ModelSource, resolve_source

CACHE_FILE = "judge_cache.jsonl"


def cache_path(settings: JudgeSettings, cache_dir: str | None = None) -> Path:
    """judge.cache, else judge_cache.jsonl in lorabench's cache folder (shared by every run)."""
    return Path(settings.cache).expanduser() if settings.cache else cache_root(cache_dir) / CACHE_FILE


@dataclass(frozen=True)
class JudgeSetup:
    """A judge as `check_judge` found it, for the judging to use rather than read again: its
    settings, its rubrics, and the model a judge loaded here names (None for an endpoint)."""

    settings: JudgeSettings
    rubrics: dict[str, Rubric]
    source: ModelSource | None


def open_backend(settings: JudgeSettings, source: ModelSource | None, cache_dir: str | None = None) -> JudgeBackend:
    """The judge `settings` name (`source`: its model, resolved, for a judge loaded here); a local
    model is only loaded once a prompt needs it."""
    if settings.is_endpoint:
        from lorabench.judging.endpoint import EndpointJudge

        return EndpointJudge(settings)
    from lorabench.judging.local import LocalJudge

    assert source is not None, "a judge loaded here is opened with its resolved model"
    return LocalJudge(settings, source, cache_dir)


def rubrics_for(settings: JudgeSettings, sides: Sequence[str]) -> dict[str, Rubric]:
    rubrics = {"correctness": load_rubric("correctness", settings.correctness_rubric)}
    if settings.preference and len(sides) == 2:
        rubrics["preference"] = load_rubric("preference", settings.preference_rubric)
    return rubrics


def check_judge(settings: JudgeSettings, sides: Sequence[str], cache_dir: str | None = None) -> JudgeSetup:
    """Refuse, before any work, a judge that cannot run: its rubric files, its model's name or file,
    the openai client and the key variable of an endpoint. Nothing is loaded or asked; what was read
    and resolved comes back for `judge_with`."""
    rubrics = rubrics_for(settings, sides)
    if settings.is_endpoint:
        from lorabench.judging.endpoint import check_endpoint

        check_endpoint(settings)
        return JudgeSetup(settings, rubrics, None)
    return JudgeSetup(settings, rubrics, resolve_source(settings.model, cache_dir, settings.revision))


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
    # A given backend needs no model resolved (a scripted judge, or one opened already).
    source = None if settings.is_endpoint or backend is not None else resolve_source(settings.model, cache_dir, settings.revision)
    return judge_with(items, sides, JudgeSetup(settings, rubrics, source), out, cache_dir, alpha, say, backend)


def judge_with(
    items: Sequence[JudgeItem],
    sides: Sequence[str],
    setup: JudgeSetup,
    out: Path | None = None,
    cache_dir: str | None = None,
    alpha: float = 0.05,
    say: Say = log,
    backend: JudgeBackend | None = None,
) -> JudgeResult:
    """`judge_answers` with the rubrics read and the judge's model resolved already (a run checks
    its judge before any work, see `check_judge`, and judges with what the check found)."""
    settings = setup.settings
    cache_file = cache_path(settings, cache_dir)
    backend = backend or open_backend(settings, setup.source, cache_dir)
    result = judge_items(items, sides, setup.rubrics, backend, cache_file, alpha, say)
    if out is not None:
        write_judging(Path(out), result, setup.rubrics.values())
    return result
