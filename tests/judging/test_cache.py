from lorabench.judging.cache import Completion, JudgmentCache, cache_key


def test_keys_cover_judge_rubric_question_gold_and_answer():
    base = cache_key("judge", "rubric", "q", "g", ("a",))
    others = [
        cache_key("other judge", "rubric", "q", "g", ("a",)),
        cache_key("judge", "other rubric", "q", "g", ("a",)),
        cache_key("judge", "rubric", "other q", "g", ("a",)),
        cache_key("judge", "rubric", "q", "other g", ("a",)),
        cache_key("judge", "rubric", "q", "g", ("other a",)),
        cache_key("judge", "rubric", "q", "g", ("a", "b")),
    ]
    assert len({base, *others}) == 7
    assert cache_key("judge", "rubric", "q", "g", ("a", "b")) != cache_key("judge", "rubric", "q", "g", ("b", "a"))


def test_appended_judgments_survive_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = JudgmentCache(path)
    cache.put("k1", Completion("Verdict: CORRECT", 10, 3, 0.5), {"check": "correctness"})
    with open(path, "a") as handle:
        handle.write('{"key": "k2", "text": "Verd')  # what a kill -9 mid-write leaves
    reread = JudgmentCache(path)
    assert reread.get("k1") == Completion("Verdict: CORRECT", 10, 3, 0.5)
    assert "k2" not in reread and reread.skipped_lines == 1
    reread.put("k3", Completion("Verdict: A", 5, 2, 0.1))
    final = JudgmentCache(path)
    assert set(final.entries) == {"k1", "k3"} and final.skipped_lines == 1


class _Counting:
    """A judge that answers every prompt with its own text and remembers what it was asked."""

    identity = "counting"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def complete(self, prompts):
        for key, prompt in prompts:
            self.asked.append(key)
            yield key, Completion(prompt.upper(), 1, 1, 0.0)


def test_fill_asks_only_what_the_cache_lacks_and_keeps_each_answer(tmp_path):
    path, said = tmp_path / "cache.jsonl", []
    JudgmentCache(path).put("k1", Completion("old", 1, 1, 0.0))
    cache, judge = JudgmentCache(path), _Counting()
    asks = [("k1", "p1", {"check": "correctness"}), *[("k2", "p2", {"check": "preference"})] * 2]
    assert cache.fill(asks, judge.complete, said.append) == {"k2"} and judge.asked == ["k2"]
    assert said == ["judge: 2 judgment(s), 1 from the cache, 1 to make"]
    assert cache.get("k1") == Completion("old", 1, 1, 0.0) and JudgmentCache(path).get("k2") == Completion("P2", 1, 1, 0.0)
    assert '"check": "preference"' in path.read_text().splitlines()[-1]


def test_cost_counts_distinct_judgments_and_pays_only_for_the_fresh_ones(tmp_path):
    cache = JudgmentCache(tmp_path / "cache.jsonl")
    cache.put("old", Completion("Verdict: CORRECT", 100, 100, 9.0))
    cache.put("new", Completion("Verdict: A", 10, 3, 0.25))
    cost = cache.cost(["old", "new", "new"], fresh={"new"})
    assert (cost.judgments, cost.fresh, cost.cached) == (2, 1, 1)
    assert (cost.tokens_in, cost.tokens_out, cost.seconds) == (10, 3, 0.25)
