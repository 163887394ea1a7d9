"""The endpoint judge against a real HTTP server on 127.0.0.1 through the real openai client:
the protocol, requests in flight together (judge.concurrency), retries with backoff on 429 / 5xx /
timeouts, one clear line when they run out, nothing finished lost, and the API key kept out of
every file and message. Tests that queue faults for particular requests send one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.judging.judge_server import JudgeServer
from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.judging.answers import check_judge, judge_answers
from lorabench.judging.backend import open_backend
from lorabench.judging.items import JudgeItem
from lorabench.results import JudgeResult

KEY = "sk-test-very-secret-0123456789"


def _items(n: int = 10, tuned_right: int = 8, base_right: int = 2) -> list[JudgeItem]:
    items = []
    for i in range(n):
        gold = f"city{i}"
        base = f"It is {gold}." if i < base_right else f"other{i}"
        tuned = f"The answer is {gold}" if i < tuned_right else f"wrong{i}"
        items.append(JudgeItem(f"item-{i}", f"Where is thing {i}?", gold, {"base": base, "tuned": tuned},
                               {"base": 0.0, "tuned": 0.0}))
    return items


def _settings(server: JudgeServer, tmp_path, **overrides) -> JudgeSettings:
    values = dict(model="judge-model", endpoint=server.url, cache=str(tmp_path / "cache.jsonl"), max_retries=2)
    return JudgeSettings(**{**values, **overrides})


@pytest.fixture
def server():
    with JudgeServer() as running:
        yield running


def test_judged_paired_and_position_swapped(server, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)
    settings = _settings(server, tmp_path, api_key_env="JUDGE_KEY")
    result = judge_answers(_items(), ["base", "tuned"], settings, out=tmp_path / "run")

    assert result.rates["gold"]["judge_correct"] == 1.0 and result.trustworthy
    correct = next(c for c in result.comparisons if c.metric == "judge_correct")
    assert (correct.base, correct.tuned, correct.improved, correct.regressed) == (0.2, 0.8, 6, 0)
    assert correct.test == "mcnemar_exact" and correct.p_value == pytest.approx(2 * 0.5**6)
    preference = result.preference
    assert (preference.wins, preference.losses, preference.ties) == (6, 0, 4)
    assert preference.p_value == pytest.approx(2 * 0.5**6) and preference.verdict == "better"
    assert preference.position_bias_rate == 0.0 and all(g.ok for g in result.guards)
    # 10 gold + 20 answers + 20 preference orders, each a real request carrying the key.
    assert server.chat_requests() == 50 == result.cost.fresh
    assert {r["authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    assert {r["body"]["temperature"] for r in server.requests} == {0}
    assert result.cost.tokens_in > 0 and result.cost.tokens_out > 0
    # Every judge output is kept, raw, with its cost; the key is written nowhere.
    lines = (tmp_path / "run" / "judgments.jsonl").read_text().splitlines()
    assert len(lines) == 50 and '"raw": "It says what the gold says.\\nVerdict: CORRECT"' in (tmp_path / "run" / "judgments.jsonl").read_text()
    for path in [*(tmp_path / "run").iterdir(), tmp_path / "cache.jsonl"]:
        assert KEY not in path.read_text()
    assert (tmp_path / "run" / "judge_correctness_rubric.j2").is_file()

    # A second report costs nothing: every judgment comes from the cache.
    again = judge_answers(_items(), ["base", "tuned"], settings)
    assert server.chat_requests() == 50 and again.cost.fresh == 0 and again.cost.cached == 50
    assert again.to_dict()["comparison"] == result.to_dict()["comparison"]


def _keys(cache: Path) -> list[str]:
    return [json.loads(line)["key"] for line in cache.read_text().splitlines()]


def test_requests_overlap_and_give_what_one_at_a_time_gives(server, tmp_path):
    # The first request to arrive is slow: the others finish first, so answers come back out of order.
    server.faults = [(0, 0.3)] + [(0, 0.02)] * 49
    four_at_once = _settings(server, tmp_path, concurrency=4)
    parallel = judge_answers(_items(), ["base", "tuned"], four_at_once, out=tmp_path / "parallel")
    assert 1 < server.most_in_flight <= 4 and server.chat_requests() == 50
    server.most_in_flight = 0
    one_by_one = _settings(server, tmp_path, concurrency=1, cache=str(tmp_path / "serial.jsonl"))
    serial = judge_answers(_items(), ["base", "tuned"], one_by_one, out=tmp_path / "serial")
    assert server.most_in_flight == 1 and server.chat_requests() == 100

    # Cached in the order the answers came; the same judgments, in the same order, either way.
    assert sorted(_keys(tmp_path / "cache.jsonl")) == sorted(_keys(tmp_path / "serial.jsonl"))
    assert _keys(tmp_path / "cache.jsonl") != _keys(tmp_path / "serial.jsonl")
    assert {**parallel.to_dict(), "cost": None} == {**serial.to_dict(), "cost": None}
    lines = [[json.loads(line) for line in (tmp_path / name / "judgments.jsonl").open()] for name in ("parallel", "serial")]
    assert len(lines[0]) == 50 and [{**r, "seconds": 0} for r in lines[0]] == [{**r, "seconds": 0} for r in lines[1]]


def test_after_a_failure_no_request_starts_and_those_in_flight_are_kept(server, tmp_path):
    settings = _settings(server, tmp_path, max_retries=0, concurrency=4)
    server.faults = [(503, 0.0)] + [(0, 0.3)] * 3  # the first to arrive fails at once, three are still answering
    with pytest.raises(LorabenchError) as caught:
        judge_answers(_items(3), ["base", "tuned"], settings)
    message = str(caught.value)
    assert "\n" not in message and "HTTP 503 after 0 retries with backoff" in message
    assert "3 judgment(s) of this call finished and are cached; run again to resume" in message
    assert server.chat_requests() == 4 and len(_keys(tmp_path / "cache.jsonl")) == 3
    # Resuming asks only for the rest: 3 items need 15 judgments, 3 are cached.
    result = judge_answers(_items(3), ["base", "tuned"], settings)
    assert result.cost.fresh == 12 and server.chat_requests() == 16


def test_a_position_biased_judge_is_flagged(server, tmp_path):
    server.biased = True
    result = judge_answers(_items(), ["base", "tuned"], _settings(server, tmp_path))
    assert (result.preference.wins, result.preference.losses) == (0, 0)
    assert result.preference.position_bias_rate == 1.0
    position = next(g for g in result.guards if g.name == "judge_position")
    assert not position.ok and "position-biased" in position.message


def test_429_and_500_are_retried_with_backoff(server, tmp_path):
    server.faults = [(429, 0.0), (500, 0.0)]
    result = judge_answers(_items(2), ["base", "tuned"], _settings(server, tmp_path))
    assert result.n == 2 and result.unparseable == 0
    assert server.chat_requests() == result.cost.fresh + 2  # the two faults, retried


def test_errors_that_outlast_the_retries_are_one_line_and_lose_nothing(server, tmp_path):
    settings = _settings(server, tmp_path, max_retries=1, concurrency=1)  # the faults meet the asks in order
    judge_answers(_items(1), ["base", "tuned"], settings)  # item-0 judged and cached
    before = server.chat_requests()
    server.faults = [(0, 0.0)] * 2 + [(503, 0.0)] * 2
    with pytest.raises(LorabenchError) as caught:
        judge_answers(_items(3), ["base", "tuned"], settings)
    message = str(caught.value)
    assert "\n" not in message and "HTTP 503 after 1 retry with backoff" in message
    assert "2 judgment(s) of this call finished and are cached; run again to resume" in message
    # Resuming asks only for what was not finished: 3 items need 15 judgments, 5 + 2 are cached.
    after_failure = server.chat_requests()
    assert after_failure - before == 4
    result = judge_answers(_items(3), ["base", "tuned"], settings)
    assert result.cost.fresh == 15 - 5 - 2 and server.chat_requests() - after_failure == 8


def test_a_timeout_is_retried_then_reported(server, tmp_path):
    server.faults = [(0, 2.0)] * 2
    settings = _settings(server, tmp_path, timeout_s=0.3, max_retries=1, concurrency=1)
    with pytest.raises(LorabenchError, match=r"no answer within judge.timeout_s=0.3 s after 1 retry with backoff"):
        judge_answers(_items(1), ["base", "tuned"], settings)


def test_client_errors_are_not_retried_and_never_show_the_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)
    server.faults = [(401, 0.0)]
    with pytest.raises(LorabenchError) as caught:
        judge_answers(_items(1), ["base", "tuned"], _settings(server, tmp_path, api_key_env="JUDGE_KEY", concurrency=1))
    assert "HTTP 401 (not retried)" in str(caught.value) and KEY not in str(caught.value)
    assert server.chat_requests() == 1


def test_a_missing_key_variable_is_named(server, tmp_path, monkeypatch):
    monkeypatch.delenv("JUDGE_KEY", raising=False)
    with pytest.raises(LorabenchError, match="judge.api_key_env: the environment variable JUDGE_KEY is not set"):
        judge_answers(_items(1), ["base", "tuned"], _settings(server, tmp_path, api_key_env="JUDGE_KEY"))
    assert server.chat_requests() == 0


def test_the_item_view_has_both_answers_grades_reasons_and_the_preference(server, tmp_path):
    result = judge_answers(_items(3, tuned_right=2, base_right=1), ["base", "tuned"], _settings(server, tmp_path),
                           out=tmp_path / "run")
    view = result.item_view()
    assert view["item-0"]["base"] == {"grade": "correct", "reason": "It says what the gold says."}
    assert view["item-1"]["base"]["grade"] == "incorrect" and view["item-1"]["tuned"]["grade"] == "correct"
    assert view["item-1"]["preference"] == "tuned preferred"
    assert view["item-0"]["preference"] == "tie"  # both right: the server calls it a tie in both orders
    assert view["item-2"]["preference"] == "tie" and view["item-2"]["orders"]["base"]["verdict"] == "tie"
    graded = [j for j in result.judgments if j.id == "item-1" and j.check == "correctness" and j.subject == "base"][0]
    assert graded.answers == ["other1"]
    # Read back from the folder, the result and its view are the same.
    again = JudgeResult.read(tmp_path / "run")
    assert again.to_dict() == result.to_dict() and again.item_view() == view


def test_a_run_checks_the_key_when_it_opens_its_judge_and_a_judging_only_when_it_asks(monkeypatch):
    monkeypatch.delenv("JUDGE_KEY", raising=False)
    settings = JudgeSettings(model="judge-model", endpoint="http://127.0.0.1:9/v1", api_key_env="JUDGE_KEY")
    assert "judge-model" in open_backend(settings).identity  # opened: nothing checked or sent yet
    with pytest.raises(LorabenchError, match="judge.api_key_env: the environment variable JUDGE_KEY is not set"):
        check_judge(settings, ["base", "tuned"])
