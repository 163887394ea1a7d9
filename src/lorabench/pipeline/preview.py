"""What a model sees, for `lorabench prompts`: the first items of a split as training and
evaluation show them, from the config, the data and the tokenizer alone (no weights).

The training view is `train_data.encode_example`'s own output, so the tokens shown as learned
are exactly the ones that carry loss; the evaluation view is the same prompt with the stop
strings and the token budget a generation gets (or the options a multiple-choice scorer compares).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lorabench.config.run import RunConfig
from lorabench.core.kinds import get_task
from lorabench.data.records import Record, option_labels
from lorabench.models.load import TokenizerAndConfig, load_tokenizer
from lorabench.pipeline.run import split_data
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.answers import STOP_STRINGS
from lorabench.prompts.build import build_prompt, fit_to_model, model_context_length
from lorabench.results.preview import ItemView, Split
from lorabench.training.examples import IGNORE_INDEX, encode_example


@dataclass(frozen=True)
class SplitPreview:
    """The rendered items, with the prompt settings (fitted to the model) that rendered them."""

    split: Split
    total: int  # items in the split
    chat: bool
    settings: PromptSettings
    items: list[ItemView]


def preview_prompts(config: RunConfig, split: Split, n: int, say: Callable[[str], None]) -> SplitPreview:
    """Load the data as `run` does (same splits, same refusals) and the tokenizer, and render the
    first `n` items of `split`."""
    splits = split_data(config, say)
    records = splits.train if split == "train" else splits.test
    model = load_tokenizer(config.model)
    max_new = config.decoding.max_new_tokens_for(config.task)
    settings = fit_to_model(splits.prompt, model, max_new)
    items = [_view(record, model, settings, config, max_new) for record in records[:n]]
    chat = bool(items) and build_prompt(records[0], model.tokenizer, settings).chat
    return SplitPreview(split, len(records), chat, settings, items)


def _view(record: Record, model: TokenizerAndConfig, settings: PromptSettings, config: RunConfig, max_new: int) -> ItemView:
    tokenizer = model.tokenizer
    prompt = build_prompt(record, tokenizer, settings)
    max_length = None if model.is_seq2seq else model_context_length(model)
    example = encode_example(record, tokenizer, settings, model.is_seq2seq, max_length)
    learned = [token for token in example.labels if token != IGNORE_INDEX]
    options = get_task(record.task).options(record)
    mode = get_task(record.task).scoring_strategy(config.decoding.choice_mode) if options is not None else None
    return ItemView(
        record_id=record.id,
        prompt=prompt.text,
        prompt_tokens=prompt.n_tokens,
        shortened=prompt.shortened,
        learned_text=tokenizer.decode(learned),
        learned_tokens=tuple(tokenizer.decode([token]) for token in learned),
        answer_truncated=example.answer_truncated,
        max_new_tokens=max_new,
        stop_strings=STOP_STRINGS[record.task],
        scored_options=tuple(options or ()) if mode == "logprob" else (),
        scored_labels=tuple(option_labels(len(options or ()))) if mode == "letter" else (),
    )
