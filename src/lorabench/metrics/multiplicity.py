"""Adjusting p-values when several hypotheses are tested at once (Holm's step-down method)."""

from __future__ import annotations

from collections.abc import Sequence


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Comparing an adjusted value with alpha controls the chance of any false "better" among the
    family at alpha, without assuming the tests are independent (they are not: metrics of one run
    share items). The adjusted value of the k-th smallest p (0-based) is the running maximum of
    (m - k) * p, capped at 1, so adjusted values keep the order of the raw ones.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return adjusted
