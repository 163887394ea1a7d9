"""`lorabench prompts`: exactly what the model sees for the first items, learned tokens highlighted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from lorabench.cli.common import SetOption, console, err_console, say_on
from lorabench.results import ItemView, Preview

LEARNED_STYLE = "bold black on green"


def prompts(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML), as for `run`.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many items to show.")] = 3,
    split: Annotated[str, typer.Option(help="train | test: which split's first items.")] = "train",
    overrides: SetOption = None,
) -> None:
    """Print exactly what the model sees for the first items: the training text with the learned
    tokens highlighted, and how evaluation asks (stop strings, max_new_tokens). Loads the tokenizer only."""
    import lorabench.api as api

    preview = api.preview_prompts(config_path, split, n, overrides=overrides, say=say_on(err_console))
    for renderable in render_preview(preview):
        # Not re-wrapped: the line breaks shown are the prompt's own.
        console.print(renderable, highlight=False, soft_wrap=True)


def _header(preview: Preview) -> Text:
    lines = [
        f"{len(preview.items)} of {preview.total} {preview.split} items; "
        f"{'chat template' if preview.chat else 'plain prompts (no chat template)'}; "
        f"prompts fit in {preview.max_prompt_tokens} tokens (only the context is shortened)",
    ]
    shots = preview.few_shot
    if shots is not None:
        lines.append(f"few-shot examples ({shots.k}, drawn from train with seed {shots.seed}; "
                     f"the last stands in for a shot in its own prompt): {', '.join(shots.ids)}")
    return Text("\n".join(lines))


def _item(view: ItemView, number: int, split: str) -> RenderableType:
    training = Text.assemble(
        (f"training: {view.prompt_tokens} prompt tokens{' (context shortened)' if view.shortened else ''}, "
         f"{len(view.learned_tokens)} learned tokens (highlighted){'; answer cut to fit' if view.answer_truncated else ''}\n",
         "bold"),
        view.prompt, (view.learned_text, LEARNED_STYLE),
        "\nlearned tokens: ", " ".join(repr(token) for token in view.learned_tokens),
    )
    if view.scored_options:
        asked = f"scores the options after the prompt: {' | '.join(view.scored_options)}"
    elif view.scored_labels:
        asked = f"compares the probabilities of the labels as the next token: {' | '.join(view.scored_labels)}"
    else:
        stops = ", ".join(repr(stop) for stop in view.stop_strings)
        asked = f"generates up to max_new_tokens={view.max_new_tokens}, cut at the end token or at {stops}"
    evaluation = Text.assemble(("evaluation: ", "bold"), f"the same prompt, up to the highlighted part; {asked}")
    return Group(Rule(Text(f"{split} item {number}: {view.record_id}"), align="left"), training, evaluation)


def render_preview(preview: Preview) -> list[RenderableType]:
    """The preview as rich renderables. Data text goes in as Text, never as markup, so brackets in
    a question cannot restyle (or hide) what is printed."""
    return [_header(preview), *(_item(view, i, preview.split) for i, view in enumerate(preview.items, start=1))]
