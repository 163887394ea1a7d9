"""`lorabench.api.preview_prompts`: what the model sees for the first items of a split, as `lorabench prompts` shows it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Split = Literal["train", "test"]


class ItemView(BaseModel):
    """One item: its prompt, what training learns after it, and how evaluation asks for the answer."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    prompt: str
    prompt_tokens: int
    shortened: bool
    learned_text: str  # the learned ids decoded together: answer and end token
    learned_tokens: tuple[str, ...]  # the same ids decoded one by one
    answer_truncated: bool
    max_new_tokens: int
    stop_strings: tuple[str, ...]
    scored_options: tuple[str, ...]  # multiple choice scored by log-probability: what is compared
    scored_labels: tuple[str, ...] = ()  # multiple choice read by letter: the labels whose probabilities are compared


class FewShotShots(BaseModel):
    """The few-shot examples every prompt shows, drawn from the training split."""

    k: int
    seed: int
    ids: list[str]  # the drawn records' ids; the last stands in for a shot in its own prompt


class Preview(BaseModel):
    """The first items of `split` as training and evaluation render them, and the prompt settings
    fitted to the model that rendered them."""

    split: Split
    total: int  # items in the split
    chat: bool  # rendered with the tokenizer's chat template
    max_prompt_tokens: int  # what a prompt fits in (only the context is shortened)
    few_shot: FewShotShots | None = None
    settings: dict[str, Any]  # the fitted prompt settings, as config.yaml's `prompt:` holds them
    items: list[ItemView]
