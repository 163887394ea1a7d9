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


ANIMALS = ["cat", "bird", "dog", "fish"]


@pytest.mark.parametrize(
    "prediction",
    ["B", " B ", "(B)", "[B]", "**B**", "B.", "B)", "B:", "B. bird", "B) bird", "B\nbecause it flies",
     "answer: B", "Answer: (B)", "ANSWER: B", "the answer is B", "The correct answer is B.", "The answer is: B",
     "I choose option B.", "**Answer:** B"],
)
def test_letter_standing_as_a_label(prediction):
    assert parse_choice(prediction, LABELS, ANIMALS) == "B"


@pytest.mark.parametrize(
    "prediction, expected",
    [
        ("The answer is a dog", "C"),  # the article, not option A; "dog" names option C
        ("the answer is a dog.", "C"),
        ("Answer: a dog", "C"),
        ("A dog", "C"),  # a sentence, not label A
        ("a dog", "C"),
        ("A lot of people would say so", None),
        ("A.M. is when it happens", None),  # "." running into a letter is an abbreviation
        ("A. cat", "A"),  # but "A. " is a label
        ("B because it flies", None),  # a letter then a word is not a label, for any letter
        ("The answer is B or C", None),  # a hedge names no option
        ("Bob", None),
    ],
)
def test_sentence_is_not_a_label(prediction, expected):
    assert parse_choice(prediction, LABELS, ANIMALS) == expected


def test_pronoun_i_is_not_label_i():
    labels = list("ABCDEFGHI")
    assert parse_choice("I think it is B", labels) is None
    assert parse_choice("Answer: I think it is B", labels) is None
    assert parse_choice("I.", labels) == "I"


def test_option_text_starting_with_an_article():
    assert parse_choice("A dog", ["A", "B"], ["A cat", "A dog"]) == "B"


def test_last_answer_marker_wins_over_leading_label():
    assert parse_choice("(A) is wrong, the answer is C", LABELS, ANIMALS) == "C"
    assert parse_choice("The answer is B. No, the answer is D.", LABELS, ANIMALS) == "D"


def test_upper_case_labels_do_not_read_a_bare_lower_case_letter():
    assert parse_choice("b", LABELS, ANIMALS) is None
    assert parse_choice("c.", LABELS, ANIMALS) is None


def test_lower_case_labels_when_asked_for_are_case_sensitive():
    labels = ["a", "b", "c", "d"]
    for prediction in ("b", "(b)", "b.", "b) bird", "answer: b", "the answer is b"):
        assert parse_choice(prediction, labels, ANIMALS) == "b", prediction
    assert parse_choice("a dog", labels, ANIMALS) == "c"
    assert parse_choice("a lot of them", labels, ANIMALS) is None
    assert parse_choice("B", labels, ANIMALS) is None
    assert parse_choice("Answer: B", labels, ANIMALS) is None


@pytest.mark.parametrize(
    "prediction, expected",
    [
        ("New York", "A"),
        ("I love New York", "A"),
        ("I live in New York City", "B"),  # the longer option, which holds the shorter one
        ("hot dog", "D"),
        ("a hot dog please", "D"),
        ("the dog ate a hot dog", None),  # "dog" is also named outside "hot dog"
        ("New York or a dog", None),
    ],
)
def test_options_that_contain_each_other(prediction, expected):
    assert parse_choice(prediction, LABELS, ["New York", "New York City", "dog", "hot dog"]) == expected


def test_options_that_overlap_without_nesting_are_ambiguous():
    assert parse_choice("New York City", ["A", "B"], ["New York", "York City"]) is None


def test_duplicate_option_text_is_ambiguous():
    assert parse_choice("dog", ["A", "B"], ["dog", "Dog."]) is None
