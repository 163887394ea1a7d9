"""Final-number extraction and comparison for math word problems (GSM8K style)."""

from __future__ import annotations

import math
import re

# A number as people write it in answers: optional sign and currency, thousands commas, decimals.
_NUMBER = r"-?\$?\s?\d[\d,]*(?:\.\d+)?"
_AFTER_HASHES = re.compile(r"####\s*(" + _NUMBER + ")")
_NUMBER_RE = re.compile(_NUMBER)


def _boxed_contents(text: str) -> list[str]:
    r"""Contents of every `\boxed{...}`, honouring nested braces such as `\boxed{\frac{1}{2}}`."""
    found = []
    start = text.find("\\boxed{")
    while start != -1:
        depth, i = 1, start + len("\\boxed{")
        begin = i
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            found.append(text[begin : i - 1])
        start = text.find("\\boxed{", i)
    return found


def _to_float(raw: str) -> float | None:
    cleaned = raw.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def _frac_value(text: str) -> float | None:
    match = re.fullmatch(r"\s*\\[dt]?frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}\s*", text)
    if match and float(match.group(2)) != 0:
        return float(match.group(1)) / float(match.group(2))
    match = re.fullmatch(r"\s*(-?\d+)\s*/\s*(\d+)\s*", text)
    if match and int(match.group(2)) != 0:
        return int(match.group(1)) / int(match.group(2))
    return None


def extract_final_number(text: str, marked_only: bool = False) -> float | None:
    r"""The answer's final number: after `####`, else inside the last `\boxed{}`, else the last number.

    With `marked_only`, only `####` and `\boxed{}` count; gold answers use this so that a worked
    solution without a marked result is reported as malformed instead of guessed at.
    """
    hashed = _AFTER_HASHES.findall(text)
    if hashed:
        return _to_float(hashed[-1])
    boxed = _boxed_contents(text)
    if boxed:
        inner = boxed[-1]
        frac = _frac_value(inner)
        if frac is not None:
            return frac
        numbers = _NUMBER_RE.findall(inner)
        if numbers:
            return _to_float(numbers[-1])
    if marked_only:
        return None
    numbers = _NUMBER_RE.findall(text)
    return _to_float(numbers[-1]) if numbers else None


def numbers_match(predicted: float | None, gold: float, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    return predicted is not None and math.isclose(predicted, gold, rel_tol=rel_tol, abs_tol=abs_tol)
