"""A judge lorabench loads itself, through the hf backend, on tiny random-weight models: the
mechanics (every output kept, unparseable counted, the gold guard, both orders asked, the cache,
resume after a kill -9) without a real judge's quality."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tiny_models
from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.judging.answers import judge_answers
from lorabench.judging.backend import open_backend
from lorabench.judging.items import JudgeItem
from lorabench.judging.cache import JudgmentCache

pytestmark = pytest.mark.xdist_group("tiny_judge")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def judge_model(tmp_path_factory) -> Path:
    """A tiny causal LM with a context long enough for the rubrics (its byte-level tokens are many)."""
    return tiny_models.build_tiny_causal(tmp_path_factory.mktemp("tiny_judge"), max_positions=4096)


def _items(n: int) -> list[JudgeItem]:
    return [
        JudgeItem(f"item-{i}", f"Who wrote play {i}?", f"Author {i}", {"base": f"Nobody {i}", "tuned": f"Author {i}"},
                  {"base": 0.0, "tuned": 1.0})
        for i in range(n)
    ]


def _settings(judge_model: Path, cache: Path, **overrides) -> JudgeSettings:
    values = dict(model=str(judge_model), device="cpu", max_new_tokens=8, batch_size=4, cache=str(cache))
    return JudgeSettings(**{**values, **overrides})


def test_a_random_judge_is_counted_unparseable_and_not_trusted(judge_model, tmp_path):
    settings = _settings(judge_model, tmp_path / "cache.jsonl")
    result = judge_answers(_items(4), ["base", "tuned"], settings, out=tmp_path / "run")

    # Every prompt a judgment: 4 gold + 4 base + 4 tuned (tuned == gold: one prompt) + 2 orders x 4.
    assert result.cost.judgments == result.cost.fresh == 4 + 4 + 8
    kept = [json.loads(line) for line in (tmp_path / "run" / "judgments.jsonl").read_text().splitlines()]
    assert len(kept) == 4 * 5 and all(k["raw"] is not None and k["tokens_in"] > 0 for k in kept)
    # Both orders of each pair were asked: the subject is the side shown as answer A.
    assert sorted(k["subject"] for k in kept if k["check"] == "preference") == ["base"] * 4 + ["tuned"] * 4
    # A random-weight model writes no verdict: every output is counted, none dropped or guessed.
    assert result.unparseable == sum(k["verdict"] == "unparseable" for k in kept) == 20
    assert result.rates["gold"]["judge_correct"] == 0.0 and not result.trustworthy
    guards = {g.name: g for g in result.guards}
    assert "NOT TRUSTWORTHY" in guards["judge_gold"].message
    assert guards["judge_unparseable"].details == {"n": 20, "unparseable": 20}
    assert not guards["judge_exact_match"].ok  # 4 exact matches, none graded correct
    assert (result.preference.wins, result.preference.losses, result.preference.ties) == (0, 0, 4)
    assert result.judge["decoding"] == "greedy" and result.judge["weights_sha256"]
    assert json.loads((tmp_path / "run" / "judge.json").read_text())["unparseable"] == 20


def test_a_cached_judgment_never_loads_the_judge(judge_model, tmp_path):
    settings = _settings(judge_model, tmp_path / "cache.jsonl", preference=False)
    first = judge_answers(_items(3), ["base", "tuned"], settings)
    assert first.preference is None and first.cost.fresh == 3 + 3
    backend = open_backend(settings)
    again = judge_answers(_items(3), ["base", "tuned"], settings, backend=backend)
    assert again.cost.fresh == 0 and backend._backend is None  # the weights were never read
    assert [j.raw for j in again.judgments] == [j.raw for j in first.judgments]
    # A different decoding budget is a different judge: nothing is reused.
    longer = judge_answers(_items(3), ["base", "tuned"], settings.model_copy(update={"max_new_tokens": 9}))
    assert longer.cost.fresh == 6


def test_opening_a_local_judge_reads_no_weights_until_a_judgment_needs_its_identity(judge_model, tmp_path):
    backend = open_backend(_settings(judge_model, tmp_path / "cache.jsonl"))
    assert "weights" not in vars(backend) and backend._backend is None
    assert json.loads(backend.identity)["weights"] == backend.describe()["weights_sha256"] is not None


def test_a_prompt_longer_than_the_judge_context_is_refused(tmp_path):
    short = tiny_models.build_tiny_causal(tmp_path / "short", max_positions=128)
    with pytest.raises(LorabenchError, match="a judge prompt takes .* tokens plus judge.max_new_tokens=8, more than its 128-token context"):
        judge_answers(_items(1), ["base", "tuned"], _settings(short, tmp_path / "cache.jsonl"))


_CHILD = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_local_items import items
    from lorabench.config.judge import JudgeSettings
    from lorabench.judging.answers import judge_answers
    settings = JudgeSettings.model_validate_json({settings!r})
    judge_answers(items({n}), ["base", "tuned"], settings)
    print("finished")
""")


def test_resume_after_kill_9_loses_no_finished_judgment(judge_model, tmp_path):
    n = 30  # 5 judgments an item: enough that the kill lands part way
    cache_file = tmp_path / "cache.jsonl"
    settings = _settings(judge_model, cache_file, batch_size=1, max_new_tokens=24)
    helper = tmp_path / "test_local_items.py"
    helper.write_text(textwrap.dedent(f"""
        from lorabench.judging.items import JudgeItem
        def items(n):
            return [JudgeItem(f"item-{{i}}", f"Who wrote play {{i}}?", f"Author {{i}}",
                    {{"base": f"Nobody {{i}}", "tuned": f"Author {{i}}"}}, {{"base": 0.0, "tuned": 1.0}}) for i in range(n)]
    """))
    script = _CHILD.format(tests=str(tmp_path), settings=settings.model_dump_json(), n=n)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        if cache_file.is_file() and cache_file.read_text().count("\n") >= 10:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stdout.read().decode()[-2000:]
    survived = len(JudgmentCache(cache_file))
    total = n * 4  # gold, base, 2 orders (tuned == gold shares the gold's judgment)
    assert 10 <= survived < total

    resumed = judge_answers(_items(n), ["base", "tuned"], settings)
    assert resumed.cost.fresh == total - survived  # only the unfinished ones were asked again
    clean = judge_answers(_items(n), ["base", "tuned"], settings.model_copy(update={"cache": str(tmp_path / "clean.jsonl")}))
    assert [j.raw for j in resumed.judgments] == [j.raw for j in clean.judgments]
