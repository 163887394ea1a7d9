"""The few transformers calling conventions that changed within 5.x, read off the model itself.

transformers 5.24 renamed the key/value cache argument of `forward` and `generate` from
`past_key_values` to `cache` (the old name still works until 5.40 but warns on every call), and
model outputs carry it as `cache`. Asking the signature instead of the version keeps both the
releases before and after the rename on the same code path.
"""

from __future__ import annotations

import inspect
from typing import Any

CACHE_NAMES = ("cache", "past_key_values")  # newest first


def _base(model: Any) -> Any:
    # A PEFT wrapper's forward takes **kwargs and passes them on; the base model's signature is the real one.
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def accepts(model: Any, name: str) -> bool:
    """Whether the underlying model's forward takes the keyword `name`."""
    return name in inspect.signature(_base(model).forward).parameters


def cache_argument(model: Any) -> str | None:
    """The keyword this model's forward (and generate) takes a key/value cache by, or None."""
    parameters = inspect.signature(_base(model).forward).parameters
    return next((name for name in CACHE_NAMES if name in parameters), None)


def cache_keyword(model: Any) -> str:
    """`cache_argument` for a model that must take a cache (a caller that has checked it does)."""
    name = cache_argument(model)
    if name is None:
        raise ValueError(f"{type(_base(model)).__name__}.forward takes no key/value cache")
    return name


def returned_cache(output: Any) -> Any:
    """The cache a forward with `use_cache=True` returned, read without the deprecated attribute."""
    for name in CACHE_NAMES:
        if name in output.keys():
            return output[name]
    raise RuntimeError("the model returned no key/value cache although use_cache=True was asked for")
