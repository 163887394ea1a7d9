"""`--cases a,b` (and `--dtype a,b`): the subset of a benchmark's cases (or precisions) to run."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def case_list(known: Sequence[str], what: str = "case") -> Callable[[str], list[str]]:
    """An argparse `type` that reads a comma-separated subset of `known` (`what` names them in the
    error), refusing any other name."""

    def parse(text: str) -> list[str]:
        cases = [case.strip() for case in text.split(",") if case.strip()]
        unknown = [case for case in cases if case not in known]
        if unknown or not cases:
            raise argparse.ArgumentTypeError(f"unknown {what}(s) {', '.join(unknown) or '(none)'}; choose from {','.join(known)}")
        return cases

    return parse
