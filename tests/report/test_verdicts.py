from lorabench.comparison.paired import compare_metric
from lorabench.report.verdicts import verdict_sentence


def test_a_null_result_says_what_the_test_set_could_have_shown():
    c = compare_metric("exact_match", [0.0] * 15, [0.0] * 14 + [1.0])
    line = verdict_sentence(c)
    assert line.startswith("exact_match: no significant difference, base 0.0% -> tuned 6.7%, +6.7 points")
    assert "1 items improved, 0 regressed, 14 unchanged; McNemar exact p = 1" in line
    assert "with 15 items this test detects only changes of about 40.0 points or more (80% power)" in line


def test_a_significant_result_gives_its_evidence_without_the_power_note():
    c = compare_metric("f1", [0.0] * 30, [0.5] * 15 + [0.7] * 15, resamples=500)
    line = verdict_sentence(c, before="A", after="B")
    assert line.startswith("f1: better, A 0.0% -> B 60.0%, +60.0 points (95% CI [")
    assert "paired bootstrap p = " in line and "detects only" not in line


def test_a_gain_with_a_loss_elsewhere_is_said_and_nothing_else_is():
    from lorabench.report.verdicts import tradeoff_sentence

    gain = compare_metric("exact_match", [0.0] * 20, [1.0] * 20)
    loss = compare_metric("arc_easy/acc", [1.0] * 20, [0.0] * 20, binary=True)
    same = compare_metric("arc_easy/acc", [1.0] * 20, [1.0] * 20, binary=True)
    sentence = tradeoff_sentence([gain], [loss, same])
    assert sentence is not None and sentence.startswith("the gain on the target task (exact_match) came with a significant loss")
    assert "arc_easy/acc 100.0% -> 0.0%" in sentence
    assert tradeoff_sentence([gain], [same]) is None
    assert tradeoff_sentence([compare_metric("exact_match", [0.0] * 20, [0.0] * 20)], [loss]) is None
