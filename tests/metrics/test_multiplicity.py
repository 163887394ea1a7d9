import pytest

from lorabench.metrics.multiplicity import holm_adjust


def test_holm_matches_the_textbook_example() -> None:
    # Four tests: sorted p 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (monotone), 0.06.
    assert holm_adjust([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])


def test_holm_caps_at_one_and_keeps_a_single_test_unchanged() -> None:
    assert holm_adjust([0.5, 0.9]) == [1.0, 1.0]
    assert holm_adjust([0.03]) == [0.03]
    assert holm_adjust([]) == []


def test_holm_never_lowers_a_p_value() -> None:
    raw = [0.001, 0.2, 0.049, 0.5, 0.01]
    assert all(adj >= p for adj, p in zip(holm_adjust(raw), raw))
