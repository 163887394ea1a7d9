"""The `prompt:` section of a config: how records become prompts (`PromptSettings`, with
`prompt.few_shot`). Pure settings models, checked on construction; lorabench.prompts renders them.

Saved with every run and every adapter, so evaluation can reproduce training's prompts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lorabench.config.templates import syntax_problem
from lorabench.core.kinds import get_task


class FewShotSettings(BaseModel):
    """`prompt.few_shot`: how many solved examples precede each item, drawn how, shown how."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(gt=0, le=64, description="Solved examples shown before every item.")
    seed: int = Field(0, description="Seeds the draw from the training split: same seed, same examples.")
    style: Literal["auto", "chat", "inline"] = Field(
        "auto",
        description="'chat': earlier user/assistant turns (needs a chat template); 'inline': blocks written "
        "like the item's own prompt, each followed by its answer; 'auto': chat under a chat template, else inline.",
    )
    examples: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The drawn training records (k shots, then the stand-in), filled in by lorabench and saved "
        "with the adapter; `eval` reuses an adapter's. Leave it out of a config.",
    )

    @model_serializer(mode="wrap")
    def _omit_undrawn(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data = handler(self)
        if not self.examples:
            data.pop("examples", None)
        return data

    @property
    def drawn(self) -> bool:
        return bool(self.examples)



NO_ANSWER = "unanswerable"

Strategy = Literal["single", "batch", "sequential"]
ChoiceAnswer = Literal["label", "text"]

class PromptSettings(BaseModel):
    """How records become prompts; saved with every run so evaluation can reproduce training."""

    model_config = ConfigDict(extra="forbid")

    chat_template: Literal["auto", "on", "off"] = Field(
        "auto", description="Use the tokenizer's chat template: 'auto' uses it when the tokenizer has one."
    )
    system: str | None = Field(None, description="Optional system message (chat template only).")
    instruction: str | None = Field(None, description="Replaces the task's default instruction line.")
    unanswerable_hint: bool = Field(
        False, description=f"Tell the model to reply '{NO_ANSWER}' when the context lacks the answer (SQuAD v2)."
    )
    max_prompt_tokens: int = Field(
        1024, gt=16, description="Longer prompts are shortened in the context only. A config's `max_length` (TRL, "
        "LLaMA-Factory: prompt + answer) sets this to max_length minus decoding.max_new_tokens.",
    )
    strategy: Strategy = Field(
        "single",
        description="Extractive QA with several questions on one context: one question per prompt ('single'), "
        "all of a context's questions in one numbered prompt ('batch'), or one conversation turn per question "
        "('sequential'). Training and evaluation use the same strategy.",
    )

    template: str | None = Field(
        None,
        description="Jinja2 template of the task text (fields by name, `{{ options | lettered }}`, any other "
        "column of the data; see lorabench.prompts.template): the user turn under a chat template, the whole "
        "prompt without one. Default: the task's instruction, context, question and options.",
    )
    target_template: str | None = Field(
        None,
        description="Jinja2 template of the answer the model is trained to write, e.g. 'Answer: {{ answer }}' "
        "(`answer` is the task's own target). Its fixed text around the answer is taken off generations "
        "before scoring. Default: the task's target.",
    )
    answer_prefix: str | None = Field(
        None,
        min_length=1,
        description="Text that ends every prompt, the answer following after a space, e.g. 'The answer is': "
        "it replaces the task's cue ('Answer:') of a plain prompt and opens the assistant turn under a chat "
        "template. Training and evaluation both put it in the prompt, so it is never part of the scored answer.",
    )
    few_shot: FewShotSettings | None = Field(
        None,
        description="Solved training examples shown before every item ({k, seed, style}), the same in "
        "training and evaluation; counted in prompt tokens, never shortened (only the item's context is).",
    )
    choice_answer: ChoiceAnswer = Field(
        "label",
        description="Multiple choice: what training teaches the model to write, the correct option's 'label' "
        "(C) or its 'text'. Follows decoding.choice_mode (set for you: 'text' under logprob, which scores "
        "option texts; 'label' under letter and generate) and is saved with the adapter, so an adapter "
        "evaluated under the other mode is refused like any prompt change.",
    )

    @field_validator("template", "target_template")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        problem = syntax_problem(value) if value is not None else None
        if problem:
            raise PydanticCustomError("template_syntax", "{problem}", {"problem": problem})
        return value

    @field_validator("answer_prefix")
    @classmethod
    def _no_trailing_space(cls, value: str | None) -> str | None:
        if value is not None and value != value.rstrip():
            raise PydanticCustomError(
                "answer_prefix_space", "ends in whitespace; leave it out: the answer follows after one space"
            )
        return value

    @model_validator(mode="after")
    def _single_questions_only(self) -> "PromptSettings":
        used = [name for name in _PROMPT_FEATURES if getattr(self, name) is not None]
        if used and self.strategy != "single":
            raise ValueError(
                f"{', '.join('prompt.' + n for n in used)}: only with prompt.strategy 'single', not '{self.strategy}'"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Saved configs and training fingerprints from before strategies (and templates) existed must
        # still match, so those defaults are left out; loading a config without them gives them again.
        data = handler(self)
        if self.strategy == "single":
            data.pop("strategy", None)
        for name in _PROMPT_FEATURES:
            if data.get(name) is None:
                data.pop(name, None)
        if self.choice_answer == "label":
            data.pop("choice_answer", None)
        return data

    @property
    def uses_templates(self) -> bool:
        return self.template is not None or self.target_template is not None


# The opt-in prompt settings, left out of dumps while unset.
_PROMPT_FEATURES = ("template", "target_template", "answer_prefix", "few_shot")


def follow_choice_mode(task: Any, settings: PromptSettings, choice_mode: str) -> PromptSettings:
    """`settings` with `choice_answer` set so that `choice_mode` scores what training taught (the
    kind decides; kinds without options keep their settings)."""
    wanted = get_task(task).follow_scoring(settings.choice_answer, choice_mode)
    return settings if settings.choice_answer == wanted else settings.model_copy(update={"choice_answer": wanted})


def choice_answer_conflict(task: Any, settings: PromptSettings, choice_mode: str) -> str | None:
    """Why a `choice_answer` written into a config disagrees with `choice_mode`, or None."""
    return get_task(task).answer_conflict(settings, choice_mode)


def choice_scoring_conflict(task: Any, settings: PromptSettings, choice_mode: str) -> str | None:
    """Why the kind cannot be scored `choice_mode` under `settings`, or None."""
    return get_task(task).scoring_conflict(settings, choice_mode)
