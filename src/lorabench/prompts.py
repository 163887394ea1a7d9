"""The only place that turns a record into prompt text and target text.

Training and evaluation both call `build_prompt` and `encode_prompt`, so the tokens a model is
evaluated on are, by construction, the tokens it was trained on up to the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from lorabench.data.records import ChoiceRecord, OpenRecord, Record, TaskKind, Turn
from lorabench.errors import LorabenchError
from lorabench.tasks.registry import ByKind, get_task

NO_ANSWER = "unanswerable"

Strategy = Literal["single", "batch", "sequential"]

# Per kind (each kind's module declares them): the prompt's first line, the cue that ends a plain
# (no chat template) prompt, and where a plain-prompt model starts a new item instead of stopping.
INSTRUCTIONS: ByKind[str] = ByKind("instruction")
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

    @model_serializer(mode="wrap")
    def _omit_default_strategy(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Saved configs and training fingerprints from before strategies existed must still match a
        # 'single' run, so the default is left out; loading a config without it gives 'single' again.
        data = handler(self)
        if self.strategy == "single":
            data.pop("strategy", None)
        return data


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt. `target` is what the model should write next (no EOS; training adds it)."""

    record_id: str
    text: str
    target: str
    chat: bool
    n_tokens: int
    shortened: bool


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


def user_message(record: Record, settings: PromptSettings, context: str | None = None) -> str:
    """The task text a user would type: instruction, context, question (and options)."""
    task = record.task
    instruction = settings.instruction or INSTRUCTIONS[task]
    if settings.unanswerable_hint and get_task(task).unanswerable:
        instruction += f' If the context does not contain the answer, reply "{NO_ANSWER}".'
    context = record.context_text if context is None else context
    parts = [instruction]
    if isinstance(record, OpenRecord):
        parts.append(f"Instruction: {record.instruction}")
        if context.strip():
            parts.append(f"Context: {context}")
        return "\n\n".join(parts)
    if context.strip():
        parts.append(f"Context: {context}")
    question = f"Question: {record.question_text}"
    if isinstance(record, ChoiceRecord):
        question += "\n" + "\n".join(f"{label}. {text}" for label, text in zip(record.labels, record.options))
    parts.append(question)
    return "\n\n".join(parts)


def target_text(record: Record) -> str:
    """The answer the model is trained to write (for extractive QA the first gold answer)."""
    return get_task(record.task).target(record)


def plain_cue(task: TaskKind) -> str:
    return _CUES[TaskKind(task)]


def render_user_turn(
    message: str, cue: str, tokenizer: Any, settings: PromptSettings, chat: bool, history: Sequence[Turn] = ()
) -> str:
    """One user message as prompt text: through the chat template, or as plain text ending in `cue`.

    `history` (a chat record's earlier turns) comes first, as it was. A system message of its own
    wins over `settings.system`, which is a default for the records that have none. Without a chat
    template each earlier turn is a paragraph "System: ...", "User: ..." or "Assistant: ...".
    """
    if not chat:
        return "".join(f"{turn.role.capitalize()}: {turn.content}\n\n" for turn in history) + f"{message}\n{cue}"
    conversation = [turn.model_dump() for turn in history] + [{"role": "user", "content": message}]
    if settings.system and not any(turn.role == "system" for turn in history):
        conversation.insert(0, {"role": "system", "content": settings.system})
    return tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)


def _render(record: Record, tokenizer: Any, settings: PromptSettings, chat: bool, context: str | None) -> str:
    message = user_message(record, settings, context)
    return render_user_turn(message, _CUES[record.task], tokenizer, settings, chat, record.history or ())


def encode_prompt(text: str, tokenizer: Any, chat: bool) -> list[int]:
    """Token ids of a prompt. A chat template already writes its own special tokens (BOS included)."""
    return list(tokenizer(text, add_special_tokens=not chat)["input_ids"])


def encode_target(target: str, tokenizer: Any, chat: bool) -> list[int]:
    """Token ids of an answer, tokenized on its own so the prompt's ids stay exactly as at evaluation."""
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
    fitted = fit_context(
        record.context_text,
        lambda context: _render(record, tokenizer, settings, chat, context),
        tokenizer,
        chat,
        settings.max_prompt_tokens,
        f"record {record.id}",
    )
    return Prompt(record.id, fitted.text, target_text(record), chat, fitted.n_tokens, fitted.shortened)


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


def answer_from_generation(task: TaskKind, generated: str) -> str:
    """The answer a generation gives: cut at the task's stop strings, trimmed; 'unanswerable' -> ''."""
    return get_task(task).clean_answer(cut_at_stops(task, generated))
