"""The Jinja2 environment prompt templates are written for: sandboxed, strict about undefined
names, with the `lettered` filter. A config's templates are compiled here when it is validated,
so a syntax error or an unknown filter is a config error; lorabench.prompts.template renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from lorabench.data.records import option_labels


def lettered(items: Sequence[Any], sep: str = ". ") -> str:
    """Options as labelled lines: "A. first\\nB. second" (`sep` goes between label and text)."""
    return "\n".join(f"{label}{sep}{text}" for label, text in zip(option_labels(len(items)), items))


# Without keep_trailing_newline the newline that ends a YAML block scalar (`template: |`) is
# dropped, so a template reads the same written inline or as a block.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
_ENV.filters["lettered"] = lettered


@cache
def compiled(text: str) -> Template:
    return _ENV.from_string(text)


def syntax_problem(text: str) -> str | None:
    """Why `text` is not a valid template (with its line), or None when it compiles."""
    try:
        compiled(text)
    except TemplateSyntaxError as error:
        return f"template syntax error at line {error.lineno}: {error.message}"
    return None
