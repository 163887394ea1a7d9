"""The only place that turns a record into prompt text and target text.

Training and evaluation both build prompts with a `PromptBuilder` (one per stage) and encode them
with `encode_prompt`, so the tokens a model is evaluated on are, by construction, the tokens it was
trained on up to the answer.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# The settings live with the other settings models (config/); the names stay importable from here.
from lorabench.config.prompt import (  # noqa: F401
    NO_ANSWER,
    ChoiceAnswer,
    PromptSettings,
    Strategy,
    choice_answer_conflict,
    choice_scoring_conflict,
    follow_choice_mode,
)
from lorabench.data.records import Record, Turn
from lorabench.core.errors import LorabenchError
from lorabench.prompts.few_shot import drawn_records, pick_shots
from lorabench.prompts.answers import AnswerFrame
from lorabench.prompts.template import RecordText
from lorabench.core.kinds import Task, get_task


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


@dataclass(frozen=True)
class TokenCounts:
    """How long some prompts (or learned answers) are, in tokens, as the dry run reports them."""

    items: int
    mean: float
    max: int
    total: int
    shortened: int  # prompts whose context was cut to fit

    @classmethod
    def of(cls, lengths: Sequence[int], shortened: int = 0) -> TokenCounts:
        return cls(len(lengths), sum(lengths) / len(lengths) if lengths else 0.0, max(lengths, default=0), sum(lengths), shortened)

    @classmethod
    def of_prompts(cls, prompts: Sequence[Prompt]) -> TokenCounts:
        return cls.of([p.n_tokens for p in prompts], sum(p.shortened for p in prompts))


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


@dataclass(frozen=True)
class ResolvedPrompt:
    """A run's prompt settings, settled once against its model.

    `settings` is the prompt section as configured, with its few-shot examples drawn: what the
    fingerprints and an adapter's lorabench.json record. `fitted` is the same with max_prompt_tokens
    lowered so that prompt and answer fit the model's window: what every prompt is built with, in
    training and evaluation alike. `max_new_tokens` is the answer budget the fit left room for, and
    `context_length` the model's window the fit read (None when its config names none).
    """

    settings: PromptSettings
    fitted: PromptSettings
    max_new_tokens: int
    context_length: int | None


def resolve_prompt(settings: PromptSettings | ResolvedPrompt, model: Any, max_new_tokens: int) -> ResolvedPrompt:
    """`settings` fitted to `model` (see fit_to_model); settings resolved already come back as they are."""
    if isinstance(settings, ResolvedPrompt):
        return settings
    return ResolvedPrompt(
        settings, fit_to_model(settings, model, max_new_tokens), max_new_tokens, model_context_length(model)
    )


def uses_chat_template(tokenizer: Any, settings: PromptSettings) -> bool:
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if settings.chat_template == "on" and not has_template:
        raise LorabenchError("prompt.chat_template is 'on' but this tokenizer has no chat template; use 'auto' or 'off'")
    return has_template if settings.chat_template == "auto" else settings.chat_template == "on"


def user_message(record: Record, settings: PromptSettings, context: str | None = None) -> str:
    """The task text a user would type (the kind writes it: instruction, context, question, options),
    or prompt.template rendered over the record."""
    return RecordText.of(record, settings).message(context)


def target_text(record: Record, settings: PromptSettings | None = None) -> str:
    """The answer the model is trained to write (for extractive QA the first gold answer), through
    prompt.target_template when there is one."""
    if settings is None:
        return get_task(record.task).target(record)
    return RecordText.of(record, settings).target()


def _plain(message: str, ending: str) -> str:
    return f"{message}\n{ending}" if ending else message


Shot = tuple[str, str]  # a few-shot example's user message and its answer


def _chat_shots(settings: PromptSettings) -> bool:
    return settings.few_shot is not None and settings.few_shot.style in ("auto", "chat")


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
class TokenizedPrompt:
    """A prompt with its token ids and its target's, as training learns them: each tokenized once,
    the prompt by `encode_prompt` (as every engine tokenizes it) and the target by `encode_target`."""

    prompt: Prompt
    prompt_ids: list[int]
    target_ids: list[int]

    @classmethod
    def of(cls, prompt: Prompt, tokenizer: Any) -> TokenizedPrompt:
        return cls(
            prompt,
            encode_prompt(prompt.text, tokenizer, prompt.chat),
            encode_target(prompt.target, tokenizer, prompt.bare_answer),
        )


@dataclass(frozen=True)
class FittedText:
    """Prompt text within a token limit, the context it was rendered with, and the user message
    that holds that context."""

    text: str
    n_tokens: int
    context: str
    message: str
    shortened: bool


@dataclass(frozen=True)
class PromptBuilder:
    """How one stage turns its records into prompts: one tokenizer and one set of settings (the
    fitted ones, see ResolvedPrompt), made once per stage and handed down, to the strategies' units
    too (prompts/batch.py, prompts/sequential.py). Whether the chat template applies, the drawn
    few-shot examples and their texts are worked out on first use, once, not for every record."""

    tokenizer: Any
    settings: PromptSettings
    # kind -> the drawn examples as its records; (kind, position) -> an example's message and answer
    _examples: dict[Any, list[Record]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _shot_texts: dict[tuple[Any, int], Shot] = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def chat(self) -> bool:
        return uses_chat_template(self.tokenizer, self.settings)

    def prompt(self, record: Record) -> Prompt:
        """Render a record; if it is too long, shorten its context (never the question or options)."""
        chat = self.chat
        shots = self._shots(record)
        text = RecordText.of(record, self.settings)
        fitted = self.fit(
            record.context_text,
            text.message,
            lambda message: self.user_turn(message, text.task.cue, record.history or (), shots),
            f"record {record.id}" + (f" (with {len(shots)} few-shot example(s), which are never shortened)" if shots else ""),
        )
        prefixed = chat and self.settings.answer_prefix is not None
        return Prompt(record.id, fitted.text, text.target(), chat, fitted.n_tokens, fitted.shortened, prefixed, text.frame())

    def user_turn(self, message: str, cue: str, history: Sequence[Turn] = (), shots: Sequence[Shot] = ()) -> str:
        """One user message as prompt text: through the chat template, or as plain text ending in `cue`
        (or prompt.answer_prefix, which under a chat template opens the assistant's turn).

        `history` (a chat record's earlier turns) comes first, as it was. A system message of its own
        wins over `settings.system`, which is a default for the records that have none. Without a chat
        template each earlier turn is a paragraph "System: ...", "User: ..." or "Assistant: ...".
        `shots` (few-shot examples) come before the history, after a system message: inline, each
        written as its own prompt followed by its answer, or as earlier turns when prompt.few_shot.style
        says so under a chat template.
        """
        settings = self.settings
        ending = self.ending(cue)
        inline = "".join(f"{_plain(m, ending)} {answer}\n\n" for m, answer in shots)
        if not self.chat:
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
        text = self.tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        return text + (settings.answer_prefix or "")

    def ending(self, cue: str) -> str:
        """What a plain prompt ends with: prompt.answer_prefix, else the kind's `cue`; a template writes
        the whole prompt, so it gets no cue of its own."""
        if self.settings.answer_prefix is not None:
            return self.settings.answer_prefix
        return "" if self.settings.template is not None else cue

    def n_tokens(self, text: str) -> int:
        """How many tokens prompt text is, as `encode_prompt` gives them."""
        return len(encode_prompt(text, self.tokenizer, self.chat))

    def fit(
        self, context: str, message: Callable[[str], str], layout: Callable[[str], str], owner: str
    ) -> FittedText:
        """`layout(message(context))`, with the context shortened until the text fits
        prompt.max_prompt_tokens: `message` writes the user message around a context, `layout` the
        prompt around a message. The message at the fitted context comes back with the text, for a
        strategy that shows it again (every turn of a conversation opens with it).

        Only the context is cut (from its end, marked " ..."): questions, options and instructions are
        what the model is asked, so they are never touched. `owner` names the item in the error.
        """
        limit, tokenizer = self.settings.max_prompt_tokens, self.tokenizer
        said = message(context)
        text = layout(said)
        n_tokens = self.n_tokens(text)
        if n_tokens <= limit:
            return FittedText(text, n_tokens, context, said, shortened=False)

        context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
        keep = len(context_ids) - (n_tokens - limit)
        while keep > 0:
            # Decoding a token prefix can re-tokenize to a few more tokens, hence the loop.
            shortened = tokenizer.decode(context_ids[:keep], skip_special_tokens=True).rstrip() + " ..."
            said = message(shortened)
            text = layout(said)
            n_tokens = self.n_tokens(text)
            if n_tokens <= limit:
                return FittedText(text, n_tokens, shortened, said, shortened=True)
            keep -= max(1, n_tokens - limit)
        raise LorabenchError(
            f"{owner}: the prompt needs more than prompt.max_prompt_tokens="
            f"{limit} tokens even with its context removed; raise the limit"
        )

    def _shots(self, record: Record) -> list[Shot]:
        few_shot = self.settings.few_shot
        if few_shot is None:
            return []
        if few_shot.style == "chat" and not self.chat:
            raise LorabenchError("prompt.few_shot.style 'chat' needs a chat template; use 'inline' or 'auto'")
        if record.task not in self._examples:
            self._examples[record.task] = drawn_records(few_shot, type(record))
        examples = self._examples[record.task]
        picked = pick_shots(record, examples, few_shot.k)
        return [self._shot_text(record.task, examples, i) for i in picked]

    def _shot_text(self, kind: Any, examples: list[Record], position: int) -> Shot:
        key = (kind, position)
        if key not in self._shot_texts:
            text = RecordText.of(examples[position], self.settings)
            self._shot_texts[key] = (text.message(), text.target())
        return self._shot_texts[key]


def build_prompt(record: Record, tokenizer: Any, settings: PromptSettings) -> Prompt:
    """One record's prompt (see PromptBuilder; a stage with many records makes one builder)."""
    return PromptBuilder(tokenizer, settings).prompt(record)


def prompt_sha256(task: Task, tokenizer: Any, settings: PromptSettings, extra: dict[str, Any] | None = None) -> str:
    """A hash of how `settings` render one fixed synthetic record of `task` (the run's kind: prompt
    and target) with this tokenizer, and of the prompt token limit: whatever changes prompts changes
    it, and nothing else does. `extra` gives the probe the data's other columns, which a template may use."""
    probe = task.synthesize(random.Random(0), 1, "probe")[0]
    if extra:
        probe = probe.model_copy(update={"extra": dict(extra)})
    # Rendered whole (the limit is hashed instead), so a probe longer than the data's items cannot fail.
    prompt = build_prompt(probe, tokenizer, settings.model_copy(update={"max_prompt_tokens": 1 << 30}))
    rendered = f"{prompt.text}\x00{prompt.target}\x00{settings.max_prompt_tokens}"
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()
