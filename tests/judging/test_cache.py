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
