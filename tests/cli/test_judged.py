from rich.console import Console

from tests.judging.scripted import scripted_result
from lorabench.cli.judged import print_judged


def _printed(result) -> str:
    console = Console(width=200, record=True, color_system=None)
    print_judged(result, console)
    return console.export_text()


def test_the_judged_table_the_preference_line_and_the_guards(tmp_path):
    text = _printed(scripted_result(tmp_path))
    assert "judged by scripted-judge on 10 items (%)" in text
    assert "judge_correct     100.0    20.0    80.0   +60.0 (+6/-0)   0.031   better" in text
    assert "judge_attempted   100.0   100.0   100.0    +0.0 (+0/-0)       1   n.s." in text
    assert "passed its gold check (the judge calls 10 of 10 gold answers correct (100%))" in text
    assert ("preference, tuned vs base (a win needs both orders to agree): 6 wins, 0 losses, 4 ties; "
            "exact sign test p = 0.031: better; position bias 0% (0 of 10 pairs") in text
    assert "ok all 50 judge outputs had a readable verdict" in text
    # Two base answers equal their gold: one prompt serves both gradings.
    assert "48 distinct judge prompts (0 from the cache, 48 asked" in text


def test_an_untrusted_judge_is_said_first_and_its_verdicts_marked(tmp_path):
    text = _printed(scripted_result(tmp_path, mute_gold=True))
    assert "judge NOT trustworthy on this data" in text
    assert "NOT TRUSTWORTHY on this data; the judge calls only 0 of 10 gold answers correct (0%, needs 90%)" in text
    assert "(better, untrusted)" in text or "(n.s., untrusted)" in text
    assert "WARNING" in text and "judge outputs had no readable verdict" in text
