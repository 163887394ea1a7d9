"""Group-aware, seeded splits: groups never straddle splits, sizes follow the request."""

from __future__ import annotations

import random

import pytest

from lorabench.tasks.extractive import ExtractiveRecord

from lorabench.tasks.math import MathRecord
from lorabench.core.errors import LorabenchError
from lorabench.data.splits import Splits, split_records, split_three_ways


def _math(i: int) -> MathRecord:
    return MathRecord(id=f"m{i}", question=f"What is {i} plus one?", answer=f"#### {i + 1}")


def _squad(groups: list[int]) -> list[ExtractiveRecord]:
    """Extractive records; group g has groups[g] questions about one context."""
    return [
        ExtractiveRecord(id=f"g{g}q{q}", context=f"Context number {g}.", question=f"Q {q} on {g}?", answers=["x"])
        for g, size in enumerate(groups)
        for q in range(size)
    ]


def _ids(records: list) -> list[str]:
    return [r.id for r in records]


def _check_partition(records: list, splits: Splits) -> None:
    parts = [splits.train, splits.validation, splits.test]
    assert sorted(_ids(sum(parts, []))) == sorted(_ids(records))
    group_sets = [{r.group_id for r in part} for part in parts]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not group_sets[i] & group_sets[j]


@pytest.mark.parametrize("seed", range(8))
def test_groups_never_straddle_splits(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 6) for _ in range(rng.randint(10, 40))]
    records = _squad(sizes)
    largest = max(sizes)
    test_target = round(0.2 * len(records))
    splits = split_records(records, test=0.2, validation=0.1, seed=seed)
    _check_partition(records, splits)
    assert splits.train and splits.test
    # Greedy fill overshoots by less than one group.
    assert test_target <= len(splits.test) < test_target + largest


def test_deterministic_and_seed_dependent() -> None:
    records = [_math(i) for i in range(100)]
    a = split_records(records, test=0.2, seed=3)
    b = split_records(records, test=0.2, seed=3)
    assert _ids(a.test) == _ids(b.test) and _ids(a.train) == _ids(b.train)
    assert set(_ids(split_records(records, test=0.2, seed=4).test)) != set(_ids(a.test))


def test_input_order_does_not_change_membership() -> None:
    records = _squad([3, 1, 2, 5, 1, 1, 4, 2, 2, 3, 1, 6])
    shuffled = list(records)
    random.Random(0).shuffle(shuffled)
    a = split_records(records, test=0.25, validation=0.15, seed=1)
    b = split_records(shuffled, test=0.25, validation=0.15, seed=1)
    for part in ("train", "validation", "test"):
        assert set(_ids(getattr(a, part))) == set(_ids(getattr(b, part)))
    # Within a split, records keep their input order.
    assert _ids(b.test) == [r.id for r in shuffled if r.id in set(_ids(b.test))]


def test_int_and_fraction_sizes_with_singleton_groups() -> None:
    records = [_math(i) for i in range(50)]
    by_count = split_records(records, test=7, validation=5)
    assert by_count.sizes() == {"train": 38, "validation": 5, "test": 7}
    by_fraction = split_records(records, test=0.2, validation=0.1)
    assert by_fraction.sizes() == {"train": 35, "validation": 5, "test": 10}
    # Half rounds up: 0.1 of 5 is one item, not zero.
    assert len(split_records(records[:5], test=0.1).test) == 1


def test_zero_validation_is_empty_and_summary_counts_groups() -> None:
    splits = split_records(_squad([2, 2, 2, 2]), test=2)
    assert splits.validation == [] and len(splits.test) == 2
    assert splits.summary() == "train 6 items (3 groups), validation 0 items (0 groups), test 2 items (1 groups)"


@pytest.mark.parametrize(
    ("test", "validation", "message"),
    [
        (0.6, 0.4, "sum to"),
        (0.5, 0.7, "sum to"),
        (11, 0.0, "only 10 records"),
        (6, 4, "nothing would be left"),
        (1.0, 0.0, r"\[0, 1\)"),
        (-1, 0.0, ">= 0"),
        (True, 0.0, "fraction"),
        (0.01, 0.0, "is 0 items"),
    ],
)
def test_impossible_requests(test: float | int, validation: float | int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_records([_math(i) for i in range(10)], test=test, validation=validation)


def test_fewer_than_two_groups() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_records(_squad([5]), test=1)
    with pytest.raises(ValueError, match="at least 2"):
        split_records([], test=0.1)


def test_train_empty_when_groups_too_big() -> None:
    # Two groups of 5: test takes one whole group, validation the other, nothing is left.
    with pytest.raises(ValueError, match="train split would be empty"):
        split_records(_squad([5, 5]), test=1, validation=1)


def test_three_ways_as_a_run_config_asks_and_refusals_name_its_keys() -> None:
    records = [_math(i) for i in range(20)]
    assert split_three_ways(records, 0, 0, seed=0) == (records, [], [])
    inner = split_records(records, test=4, seed=0)  # validation only, out of a given train set
    assert split_three_ways(records, 0, 4, seed=0) == (inner.train, inner.test, [])
    splits = split_records(records, test=5, validation=3, seed=2)
    assert split_three_ways(records, 5, 3, seed=2) == (splits.train, splits.validation, splits.test)
    with pytest.raises(LorabenchError, match=r"^data.split.test / data.split.validation \(0.6 / 0.5\): test \(0.6\)"):
        split_three_ways(records, 0.6, 0.5, seed=0)
