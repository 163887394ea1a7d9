import pytest

from lorabench.metrics.choice import parse_choice

LABELS = ["A", "B", "C", "D"]
OPTIONS = ["Velmora", "Tarquin Oslet", "the Brevik Guild", "1842"]


@pytest.mark.parametrize(
    "prediction, expected",
    [
        ("B", "B"),
        ("(C)", "C"),
        ("D. 1842", "D"),
        ("A) Velmora", "A"),
        ("The answer is C.", "C"),
        ("Answer: b", "B"),
        ("Tarquin Oslet", "B"),
        ("I believe it was the Brevik Guild that did it", "C"),
        ("I don't know", None),
        ("E", None),  # not one of the labels
        ("", None),
    ],
)
def test_parse_choice(prediction, expected):
    assert parse_choice(prediction, LABELS, OPTIONS) == expected


def test_ambiguous_option_text_is_no_choice():
    assert parse_choice("either Velmora or 1842", LABELS, OPTIONS) is None
