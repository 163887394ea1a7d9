import pytest

from lorabench.core.errors import LorabenchError
from lorabench.judging.records import save_rubric
from lorabench.judging.rubric import load_rubric


def test_packaged_rubrics_render_and_are_fingerprinted(tmp_path):
    rubric = load_rubric("correctness")
    text = rubric.render("item-1", question="When?", gold="1889", answer="In 1889.")
    assert "Gold answer: 1889" in text and "Answer to grade: In 1889." in text
    assert rubric.source == "packaged" and len(rubric.sha256) == 64
    preference = load_rubric("preference")
    assert "Answer B: y" in preference.render("item-1", question="q", gold="g", answer_a="x", answer_b="y")
    assert preference.sha256 != rubric.sha256
    saved = save_rubric(tmp_path, rubric)
    assert saved.read_text() == rubric.text and saved.name == "judge_correctness_rubric.j2"


def test_an_override_replaces_the_rubric_and_its_fingerprint(tmp_path):
    path = tmp_path / "mine.j2"
    path.write_text("Q: {{ question }} G: {{ gold }} A: {{ answer }}\nSay CORRECT or INCORRECT.")
    rubric = load_rubric("correctness", str(path))
    assert rubric.source == str(path)
    assert rubric.sha256 != load_rubric("correctness").sha256
    assert rubric.render("i", question="q", gold="g", answer="a").startswith("Q: q G: g A: a")


def test_bad_overrides_are_refused_by_key(tmp_path):
    with pytest.raises(LorabenchError, match="judge.correctness_rubric: .* is not a file"):
        load_rubric("correctness", str(tmp_path / "missing.j2"))
    broken = tmp_path / "broken.j2"
    broken.write_text("{{ answer ")
    with pytest.raises(LorabenchError, match="judge.correctness_rubric: .*syntax error at line 1"):
        load_rubric("correctness", str(broken))
    blind = tmp_path / "blind.j2"
    blind.write_text("Is {{ question }} answered well?")
    with pytest.raises(LorabenchError, match="never shows answer"):
        load_rubric("correctness", str(blind))
    unknown = tmp_path / "unknown.j2"
    unknown.write_text("{{ answer }} {{ reference }}")
    with pytest.raises(LorabenchError, match="uses reference; a correctness rubric has question, gold, answer"):
        load_rubric("correctness", str(unknown))


def test_a_prompt_puts_the_answers_into_the_kinds_answer_variables():
    rubric, preference = load_rubric("correctness"), load_rubric("preference")
    graded = rubric.prompt("i", "When?", "1889", ["In 1889."])
    assert graded == rubric.render("i", question="When?", gold="1889", answer="In 1889.")
    shown = preference.prompt("i", "q", "g", ["x", "y"])
    assert shown == preference.render("i", question="q", gold="g", answer_a="x", answer_b="y")
    with pytest.raises(ValueError, match="shows 2 answer"):
        preference.prompt("i", "q", "g", ["x"])
