"""The only place that turns a record into prompt text and target text.

Training and evaluation both call `build_prompt` and `encode_prompt`, so the tokens a model is
evaluated on are, by construction, the tokens it was trained on up to the answer.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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

from lorabench.data.records import Record, TaskKind, Turn
from lorabench.core.errors import LorabenchError
from lorabench.prompts.few_shot import FewShotSettings, shots_for
from lorabench.prompts.template import AnswerFrame, answer_frame, prompt_variables, render, syntax_problem, target_variables
from lorabench.core.kinds import ByKind, get_task

NO_ANSWER = "unanswerable"

Strategy = Literal["single", "batch", "sequential"]
ChoiceAnswer = Literal["label", "text"]

# Per kind (each kind's module declares them): the cue that ends a plain (no chat template) prompt,
# and where a plain-prompt model starts a new item instead of stopping.
_CUES: ByKind[str] = ByKind("cue")
STOP_STRINGS: ByKind[tuple[str, ...]] = ByKind("stop_strings")


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


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt. `target` is what the model should write next (no EOS; training adds it)."""

    record_id: str
    text: str
    target: str
    chat: bool
    n_tokens: int
    shortened: bool
    prefixed: bool = False  # a chat prompt ending in prompt.answer_prefix, which the answer follows after a space
    frame: AnswerFrame = field(default_factory=AnswerFrame)  # target-template text around the answer

    @property
    def bare_answer(self) -> bool:
        """Whether the answer starts right after the prompt (a chat assistant turn), not after a space."""
        return self.chat and not self.prefixed


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


def model_context_length(model: Any) -> int | None:
    """The longest sequence the model was built for, when its config says."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def fit_to_model(settings: PromptSettings, model: Any, max_new_tokens: int) -> PromptSettings:
    """Lower `max_prompt_tokens` so that prompt plus answer fits the model's context window.

    Training and evaluation both go through this, so a prompt is shortened the same way in both.
    """
    context = model_context_length(model)
    if context is None or getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        return settings  # encoder-decoder answers do not share the encoder's window
    limit = context - max_new_tokens
    if limit <= 16:
        raise LorabenchError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in a {context}-token context")
    return settings.model_copy(update={"max_prompt_tokens": min(settings.max_prompt_tokens, limit)})


def uses_chat_template(tokenizer: Any, settings: PromptSettings) -> bool:
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if settings.chat_template == "on" and not has_template:
        raise LorabenchError("prompt.chat_template is 'on' but this tokenizer has no chat template; use 'auto' or 'off'")
    return has_template if settings.chat_template == "auto" else settings.chat_template == "on"


def task_instruction(record: Record, settings: PromptSettings) -> str:
    """The prompt's first line: the task's instruction, or prompt.instruction, and the unanswerable hint."""
    task = get_task(record.task)
    instruction = settings.instruction or task.instruction_for(settings.choice_answer)
    if settings.unanswerable_hint and task.unanswerable:
        instruction += f' If the context does not contain the answer, reply "{NO_ANSWER}".'
    return instruction


def user_message(record: Record, settings: PromptSettings, context: str | None = None) -> str:
    """The task text a user would type (the kind writes it: instruction, context, question, options),
    or prompt.template rendered over the record."""
    instruction = task_instruction(record, settings)
    if settings.template is not None:
        return render(settings.template, "prompt.template", prompt_variables(record, instruction, context), record.id)
    return get_task(record.task).task_text(record, instruction, record.context_text if context is None else context)


def target_text(record: Record, settings: PromptSettings | None = None) -> str:
    """The answer the model is trained to write (for extractive QA the first gold answer), through
    prompt.target_template when there is one."""
    task = get_task(record.task)
    target = task.target(record) if settings is None else task.target_for(record, settings.choice_answer)
    if settings is None or settings.target_template is None:
        return target
    key = "prompt.target_template"
    text = render(settings.target_template, key, target_variables(record, target), record.id)
    if not text.strip():
        raise LorabenchError(f"{key}: record {record.id}: renders to empty text, leaving nothing to learn")
    return text


def plain_cue(task: TaskKind) -> str:
    return _CUES[TaskKind(task)]


def _ending(settings: PromptSettings, cue: str) -> str:
    """What a plain prompt ends with: prompt.answer_prefix, else the task's cue; a template writes the
    whole prompt, so it gets no cue of its own."""
    if settings.answer_prefix is not None:
        return settings.answer_prefix
    return "" if settings.template is not None else cue


def _plain(message: str, ending: str) -> str:
    return f"{message}\n{ending}" if ending else message


Shot = tuple[str, str]  # a few-shot example's user message and its answer


def render_user_turn(
    message: str, cue: str, tokenizer: Any, settings: PromptSettings, chat: bool, history: Sequence[Turn] = (),
    shots: Sequence[Shot] = (),
) -> str:
    """One user message as prompt text: through the chat template, or as plain text ending in `cue`
    (or prompt.answer_prefix, which under a chat template opens the assistant's turn).

    `history` (a chat record's earlier turns) comes first, as it was. A system message of its own
    wins over `settings.system`, which is a default for the records that have none. Without a chat
    template each earlier turn is a paragraph "System: ...", "User: ..." or "Assistant: ...".
    `shots` (few-shot examples) come before the history, after a system message: inline, each
    written as its own prompt followed by its answer, or as earlier turns when prompt.few_shot.style
    says so under a chat template.
    """
    ending = _ending(settings, cue)
    inline = "".join(f"{_plain(m, ending)} {answer}\n\n" for m, answer in shots)
    if not chat:
        earlier = "".join(f"{turn.role.capitalize()}: {turn.content}\n\n" for turn in history)
        return inline + earlier + _plain(message, ending)
    conversation = [turn.model_dump() for turn in history]
    if settings.system and not any(turn.role == "system" for turn in history):
        conversation.insert(0, {"role": "system", "content": settings.system})
    if shots and _chat_shots(settings):
        prefix = f"{settings.answer_prefix} " if settings.answer_prefix else ""
        first = next((i for i, turn in enumerate(conversation) if turn["role"] != "system"), len(conversation))
        conversation[first:first] = [
            turn for m, answer in shots
            for turn in ({"role": "user", "content": m}, {"role": "assistant", "content": prefix + answer})
        ]
        inline = ""
    conversation.append({"role": "user", "content": inline + message})
    text = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    return text + (settings.answer_prefix or "")


def _chat_shots(settings: PromptSettings) -> bool:
    return settings.few_shot is not None and settings.few_shot.style in ("auto", "chat")


def _shots(record: Record, settings: PromptSettings, chat: bool) -> list[Shot]:
    few_shot = settings.few_shot
    if few_shot is None:
        return []
    if few_shot.style == "chat" and not chat:
        raise LorabenchError("prompt.few_shot.style 'chat' needs a chat template; use 'inline' or 'auto'")
    return [(user_message(shot, settings), target_text(shot, settings)) for shot in shots_for(record, few_shot)]


def encode_prompt(text: str, tokenizer: Any, chat: bool) -> list[int]:
    """Token ids of a prompt. A chat template already writes its own special tokens (BOS included)."""
    return list(tokenizer(text, add_special_tokens=not chat)["input_ids"])


def encode_target(target: str, tokenizer: Any, chat: bool) -> list[int]:
    """Token ids of an answer, tokenized on its own so the prompt's ids stay exactly as at evaluation.

    `chat` (a Prompt's `bare_answer`): the answer opens an assistant turn; otherwise it follows a cue
    or answer prefix after a space.
    """
    return list(tokenizer(target if chat else " " + target, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class FittedText:
    """Prompt text within a token limit, and the context it was rendered with."""

    text: str
    n_tokens: int
    context: str
    shortened: bool


def fit_context(
    context: str, render: Callable[[str], str], tokenizer: Any, chat: bool, limit: int, owner: str
) -> FittedText:
    """`render(context)`, with the context shortened until the text fits `limit` tokens.

    Only the context is cut (from its end, marked " ..."): questions, options and instructions are
    what the model is asked, so they are never touched. `owner` names the item in the error.
    """
    text = render(context)
    n_tokens = len(encode_prompt(text, tokenizer, chat))
    if n_tokens <= limit:
        return FittedText(text, n_tokens, context, shortened=False)

    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    keep = len(context_ids) - (n_tokens - limit)
    while keep > 0:
        # Decoding a token prefix can re-tokenize to a few more tokens, hence the loop.
        shortened = tokenizer.decode(context_ids[:keep], skip_special_tokens=True).rstrip() + " ..."
        text = render(shortened)
        n_tokens = len(encode_prompt(text, tokenizer, chat))
        if n_tokens <= limit:
            return FittedText(text, n_tokens, shortened, shortened=True)
        keep -= max(1, n_tokens - limit)
    raise LorabenchError(
        f"{owner}: the prompt needs more than prompt.max_prompt_tokens="
        f"{limit} tokens even with its context removed; raise the limit"
    )


def build_prompt(record: Record, tokenizer: Any, settings: PromptSettings) -> Prompt:
    """Render a record; if it is too long, shorten its context (never the question or options)."""
    chat = uses_chat_template(tokenizer, settings)
    shots = _shots(record, settings, chat)
    fitted = fit_context(
        record.context_text,
        lambda context: render_user_turn(
            user_message(record, settings, context), _CUES[record.task], tokenizer, settings, chat,
            record.history or (), shots,
        ),
        tokenizer,
        chat,
        settings.max_prompt_tokens,
        f"record {record.id}" + (f" (with {len(shots)} few-shot example(s), which are never shortened)" if shots else ""),
    )
    frame = AnswerFrame()
    if settings.target_template is not None:
        frame = answer_frame(settings.target_template, "prompt.target_template", record)
    prefixed = chat and settings.answer_prefix is not None
    return Prompt(
        record.id, fitted.text, target_text(record, settings), chat, fitted.n_tokens, fitted.shortened, prefixed, frame
    )


def check_templates(records: Sequence[Record], settings: PromptSettings) -> None:
    """Render every record's task text and target once, so that a template mistake (a column some
    row lacks) stops a run before it writes anything. Nothing to do without templates."""
    if not settings.uses_templates:
        return
    for record in records:
        user_message(record, settings)
        target_text(record, settings)
        if settings.target_template is not None:
            answer_frame(settings.target_template, "prompt.target_template", record)


def prompt_sha256(task: TaskKind, tokenizer: Any, settings: PromptSettings, extra: dict[str, Any] | None = None) -> str:
    """A hash of how `settings` render one fixed synthetic record of `task` (prompt and target) with
    this tokenizer, and of the prompt token limit: whatever changes prompts changes it, and nothing
    else does. `extra` gives the probe the data's other columns, which a template may use."""
    probe = get_task(task).synthesize(random.Random(0), 1, "probe")[0]
    if extra:
        probe = probe.model_copy(update={"extra": dict(extra)})
    # Rendered whole (the limit is hashed instead), so a probe longer than the data's items cannot fail.
    prompt = build_prompt(probe, tokenizer, settings.model_copy(update={"max_prompt_tokens": 1 << 30}))
    rendered = f"{prompt.text}\x00{prompt.target}\x00{settings.max_prompt_tokens}"
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()


def no_answer_to_empty(text: str) -> str:
    """An extractive answer as scored: the model saying 'unanswerable' is the empty answer."""
    return "" if text.lower().rstrip(".") == NO_ANSWER else text


def cut_at_stops(task: TaskKind, generated: str) -> str:
    """What the model said: the generation cut at the task's stop strings, trimmed."""
    # Leading whitespace is not an answer; an extractive answer that opens with a newline is still one line.
    text = generated.lstrip()
    for stop in STOP_STRINGS[TaskKind(task)]:
        index = text.find(stop)
        if index != -1:
            text = text[:index]
    return text.strip()


def answer_from_generation(task: TaskKind, generated: str, frame: AnswerFrame = AnswerFrame()) -> str:
    """The answer a generation gives: cut at the task's stop strings, trimmed, the target template's
    text around the answer taken off; 'unanswerable' -> ''."""
    return get_task(task).clean_answer(frame.strip(cut_at_stops(task, generated)))
