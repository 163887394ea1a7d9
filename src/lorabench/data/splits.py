"""Seeded, group-aware train/validation/test splits.

Records that share a `group_id` (for example SQuAD questions about one context) always land in
the same split: a context seen in training and again in test would make the test score measure
memorisation rather than reading.

How a split is filled (greedy, per split, test first and then validation):

1. Groups are ordered by a seeded hash of their group id, so the result depends on the seed and
   the set of records, never on the order they were given in.
2. Walking that order, a group joins the split when it fits, that is when the split's item count
   plus the group's size stays at or under the target. Groups that do not fit are skipped and stay
   available for later splits.
3. If the split is still short after the walk, the smallest skipped group (ties broken by the
   hash order) is added. So a split never exceeds its target by a whole group: the overshoot is
   less than the size of that one group.

Whatever is left over is the training split. Within each split records keep their input order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from lorabench.core.errors import LorabenchError
from lorabench.data.records import Record

Size = float | int


@dataclass(frozen=True)
class Splits:
    """The three splits; together they hold every input record exactly once."""

    train: list[Record]
    validation: list[Record]
    test: list[Record]

    def sizes(self) -> dict[str, int]:
        """Item counts per split, in the order train, validation, test."""
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def summary(self) -> str:
        """One line for logs, e.g. 'train 80 items (40 groups), validation 10 items (5 groups), ...'."""
        parts = []
        for name, records in (("train", self.train), ("validation", self.validation), ("test", self.test)):
            groups = len({r.group_id for r in records})
            parts.append(f"{name} {len(records)} items ({groups} groups)")
        return ", ".join(parts)


def split_records(records: Sequence[Record], test: Size, validation: Size = 0.0, seed: int = 0) -> Splits:
    """Split `records` into train/validation/test without splitting any group.

    `test` and `validation` are either a fraction of the items (a float in [0, 1)) or a number of
    items (an int). Group sizes make the counts approximate; see the module docstring for how the
    greedy fill works and its bound. Raises ValueError for requests that cannot be met.
    """
    n = len(records)
    groups = _groups_in_seeded_order(records, seed)
    if len(groups) < 2:
        raise ValueError(f"cannot split {n} records: they form {len(groups)} group(s), at least 2 are needed")
    test_target = _resolve_size("test", test, n)
    val_target = _resolve_size("validation", validation, n)
    if isinstance(test, float) and isinstance(validation, float) and test + validation >= 1.0:
        raise ValueError(
            f"test ({test}) and validation ({validation}) fractions sum to {test + validation:g}; "
            "they must sum to less than 1 so that training data remains"
        )
    if test_target + val_target >= n:
        raise ValueError(
            f"test ({test_target} items) and validation ({val_target} items) would take all {n} records; "
            "nothing would be left for training"
        )

    remaining = list(groups)
    test_groups, remaining = _fill(remaining, test_target)
    val_groups, remaining = _fill(remaining, val_target)
    if not remaining:
        raise ValueError(
            f"train split would be empty: test and validation took all {len(groups)} groups "
            f"(groups are indivisible; largest has {max(len(g) for g in groups)} items). "
            "Ask for smaller test/validation sizes"
        )

    test_ids = {gid for gid, _ in test_groups}
    val_ids = {gid for gid, _ in val_groups}
    # Assign by membership so that each split keeps the records' input order.
    train_out: list[Record] = []
    val_out: list[Record] = []
    test_out: list[Record] = []
    for record in records:
        gid = record.group_id
        (test_out if gid in test_ids else val_out if gid in val_ids else train_out).append(record)
    return Splits(train=train_out, validation=val_out, test=test_out)


def _resolve_size(name: str, value: Size, n: int) -> int:
    """Turn a fraction or count into a target number of items, rejecting impossible values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a fraction (float in [0, 1)) or an item count (int), got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 items, got {value}")
        if value > n:
            raise ValueError(f"{name} asks for {value} items but only {n} records exist")
        return value
    if not (0.0 <= value < 1.0):  # also rejects NaN
        raise ValueError(f"{name} fraction must be in [0, 1), got {value!r}; use an int for an item count")
    # Round half up: 0.1 of 5 items means one item, not banker's-rounded zero.
    target = math.floor(value * n + 0.5)
    if value > 0 and target == 0:
        raise ValueError(
            f"{name} fraction {value} of {n} records is 0 items; ask for a larger fraction or an int count"
        )
    return target


def _group_rank(group_id: str, seed: int) -> bytes:
    # A keyed hash (not random.shuffle) so one group's position does not depend on which other
    # groups exist or in which order they arrived.
    return hashlib.sha256(f"{seed}\x00{group_id}".encode("utf-8")).digest()


def _groups_in_seeded_order(records: Sequence[Record], seed: int) -> list[tuple[str, int]]:
    """(group_id, item count) pairs, ordered by the seeded hash of the group id."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.group_id] = counts.get(record.group_id, 0) + 1
    return sorted(counts.items(), key=lambda item: (_group_rank(item[0], seed), item[0]))


def _fill(groups: list[tuple[str, int]], target: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Greedily pick groups totalling about `target` items; return (picked, rest), both in hash order."""
    if target <= 0:
        return [], groups
    picked: list[tuple[str, int]] = []
    rest: list[tuple[str, int]] = []
    total = 0
    for group in groups:
        if total < target and total + group[1] <= target:
            picked.append(group)
            total += group[1]
        else:
            rest.append(group)
    if total < target and rest:
        # Every skipped group overshoots; take the one that overshoots least.
        smallest = min(range(len(rest)), key=lambda i: rest[i][1])
        picked.append(rest.pop(smallest))
    return picked, rest


def split_three_ways(
    records: list[Record], test: Size, validation: Size, seed: int
) -> tuple[list[Record], list[Record], list[Record]]:
    """(train, validation, test) as a run config's data.split asks, split_records' refusals reported
    against the config keys that asked for them. With test 0 only validation is carved out (of a
    given train set); with both 0 every record trains."""
    if test == 0 and validation == 0:
        return records, [], []
    try:
        if test == 0:
            inner = split_records(records, test=validation, seed=seed)
            return inner.train, inner.test, []
        splits = split_records(records, test=test, validation=validation, seed=seed)
    except ValueError as error:
        raise LorabenchError(
            f"data.split.test / data.split.validation ({test} / {validation}): {error}"
        ) from None
    return splits.train, splits.validation, splits.test
