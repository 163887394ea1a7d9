import pytest

from lorabench.metrics.numeric import extract_final_number, numbers_match


@pytest.mark.parametrize(
    "text, expected",
    [
        ("She makes 9 * 2 = $18 a day.\n#### 18", 18.0),
        ("#### 1,234", 1234.0),
        ("#### $72.", 72.0),
        ("#### -5", -5.0),
        ("so the answer is \\boxed{72}", 72.0),
        ("\\boxed{\\frac{3}{4}}", 0.75),
        ("first 3 then \\boxed{12} then 99", 12.0),  # boxed wins over the last number
        ("I think it is 40, no, 42.", 42.0),  # trailing '.' stripped, last number taken
        ("3 apples and #### 7 oranges 9", 7.0),  # '####' wins over everything
        ("no digits here", None),
    ],
)
def test_extract_final_number(text, expected):
    assert extract_final_number(text) == expected


def test_marked_only_ignores_bare_numbers():
    assert extract_final_number("the answer is 5", marked_only=True) is None
    assert extract_final_number("#### 5", marked_only=True) == 5.0


def test_numbers_match_as_numbers_with_tolerance():
    assert numbers_match(72.0, 72)
    assert numbers_match(0.1 + 0.2, 0.3)
    assert not numbers_match(72.5, 72)
    assert not numbers_match(None, 72)
