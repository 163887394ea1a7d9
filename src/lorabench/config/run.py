"""The `lorabench run` configuration: one YAML file, validated, saved into every run folder.

Errors name the key and its line in the file (`run.yaml:12: training.lr: ...`), and unknown keys
are errors, not silently ignored typos. Other tools' names for lorabench's keys (`learning_rate`,
`lora_r`, ...) are read as lorabench's (see config/aliases.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from lorabench.data.records import TaskKind
from lorabench.data.spec import DataSpec
from lorabench.core.errors import ConfigKeyError, LorabenchError, first_problem
from lorabench.core.messages import Key, Message
from lorabench.config.decoding import DecodingSettings
from lorabench.config.judge import JudgeSettings, primary_metric_problem
from lorabench.config.prompt import PromptSettings, choice_answer_conflict, choice_scoring_conflict, follow_choice_mode
from lorabench.config.tracking import TrackingSettings
from lorabench.config.settings import (  # noqa: F401 - MetricSettings re-exported
    LoraSettings,
    MetricSettings,
    ModelSpec,
    RetentionSettings,
    TrainSettings,
)
from lorabench.config.trainer_args import check_trainer_args
from lorabench.config.aliases import KeyPath, canonical_names, drop_spellings

_SOURCES = ("source", "train", "validation", "test")


class SplitSettings(BaseModel):
    """How one `source` is cut into train / validation / test (group-aware, seeded)."""

    model_config = ConfigDict(extra="forbid")

    test: float | int = Field(0.2, description="Fraction (< 1) or number of items held out for testing.")
    validation: float | int = Field(0.1, description="Fraction or number of items for validation during training.")
    seed: int = Field(0, description="Same seed, same split.")


class PipelineData(BaseModel):
    """Either one `source` that lorabench splits, or separate `train` / `test` (and `validation`) sets."""

    model_config = ConfigDict(extra="forbid")

    source: DataSpec | None = Field(None, description="One data set, split by `split`.")
    train: DataSpec | None = Field(None, description="Training set (with `test`, instead of `source`).")
    validation: DataSpec | None = Field(None, description="Validation set; else taken from `train` by `split.validation`.")
    test: DataSpec | None = Field(None, description="Held-out test set.")
    split: SplitSettings = Field(default_factory=SplitSettings)
    train_size: int | None = Field(None, gt=0, description="Use only the first N training items (after the split).")
    test_size: int | None = Field(None, gt=0, description="Evaluate only the first N test items.")
    allow_leakage: bool = Field(False, description="Run even when train and test overlap (reported either way).")

    @model_validator(mode="after")
    def _one_layout(self) -> "PipelineData":
        if self.source is not None and (self.train or self.test or self.validation):
            raise ValueError("give either 'source' or 'train' + 'test', not both")
        if self.source is None and not (self.train and self.test):
            raise ValueError("give 'source' (split here) or both 'train' and 'test'")
        return self


class RunConfig(BaseModel):
    """Everything `lorabench run` needs: model, data, prompts, LoRA, training, decoding, metrics."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec
    task: TaskKind
    data: PipelineData
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    training: TrainSettings = Field(default_factory=TrainSettings)
    decoding: DecodingSettings = Field(default_factory=DecodingSettings, validate_default=True)
    metrics: MetricSettings = Field(default_factory=MetricSettings)
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description="lm-eval tasks evaluated before and after (`retention: [arc_easy, my_task.yaml]` is short for "
        "`retention: {tasks: [...]}`); needs pip install 'lorabench[lm-eval]'.",
    )
    judge: JudgeSettings | None = Field(
        None,
        description="A judge model grading both passes' answers against the gold and comparing them in both orders "
        "(`judge: MODEL` is short for `judge: {model: MODEL}`); open answers especially. Unset: no judge.",
    )
    out: str = Field("runs/run", description="Run folder; rerunning the same config resumes it.")
    tracking: TrackingSettings = Field(
        default_factory=TrackingSettings,
        description="Experiment trackers the finished run is sent to (`--track mlflow`); not part of config.yaml, "
        "since where results are shown never changes them.",
    )

    @model_serializer(mode="wrap")
    def _omit_unused_sections(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A run without retention tasks or a judge saves the config.yaml it saved before the keys existed.
        data = handler(self)
        if not self.retention.tasks:
            data.pop("retention", None)
        if self.judge is None:
            data.pop("judge", None)
        return data

    @model_validator(mode="after")
    def _primary_metric_is_known(self) -> "RunConfig":
        problem = primary_metric_problem(self.task, self.metrics.primary, self.judge is not None)
        if problem:
            raise ConfigKeyError(("metrics", "primary"), problem)
        return self

    @field_validator("decoding")
    @classmethod
    def _choice_scoring_fits_prompt(cls, decoding: DecodingSettings, info: ValidationInfo) -> DecodingSettings:
        if "task" in info.data and "prompt" in info.data:
            task, prompt = info.data["task"], info.data["prompt"]
            conflict = choice_scoring_conflict(task, prompt, decoding.choice_mode) or choice_answer_conflict(
                task, prompt, decoding.choice_mode
            )
            if conflict:
                raise ValueError(conflict)
        return decoding

    @model_validator(mode="after")
    def _choice_target_follows_scoring(self) -> "RunConfig":
        # Multiple choice is trained to write what its choice_mode scores (the option text under
        # logprob), so training and evaluation measure the same thing.
        self.prompt = follow_choice_mode(self.task, self.prompt, self.decoding.choice_mode)
        return self

    def to_yaml(self) -> str:
        """The run folder's config.yaml text: the settings that decide the results (a run sent to
        another tracker is the same run, and resumes; tracking.json keeps the tracking settings)."""
        return yaml.safe_dump(self.model_dump(mode="json", exclude={"tracking"}), sort_keys=False, allow_unicode=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, raw: Any) -> Any:
        """`model: NAME` for `model: {name: NAME}`, `retention: [TASK, ...]` for `retention: {tasks: [...]}`;
        the top-level `task` fills every data source's task."""
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        if isinstance(raw.get("model"), str):
            raw["model"] = {"name": raw["model"]}
        if isinstance(raw.get("retention"), list):
            raw["retention"] = {"tasks": raw["retention"]}
        if isinstance(raw.get("judge"), str):
            raw["judge"] = {"model": raw["judge"]}
        data = raw.get("data")
        if isinstance(data, dict) and "task" in raw:
            data = dict(data)
            for key in _SOURCES:
                if isinstance(data.get(key), str):
                    data[key] = {"path": data[key]}
                if isinstance(data.get(key), dict):
                    data[key] = {"task": raw["task"], **data[key]}
            raw["data"] = data
        return raw


_OVERRIDES = Key("overrides")  # what gave the override: the commands' --set


def _parse_override(text: str) -> tuple[list[str], Any]:
    key, _, value = text.partition("=")
    path = key.strip().split(".")
    if not _ or not all(part.strip() for part in path):
        raise LorabenchError(Message(_OVERRIDES, f" {text}: must look like key.subkey=value"))
    try:
        return path, yaml.safe_load(value)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", error)
        raise LorabenchError(Message(_OVERRIDES, f" {text}: the value of {key.strip()} is not valid YAML ({problem})")) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`training.lr=1e-3` style overrides; values are parsed as YAML (numbers, booleans, lists)."""
    for text in overrides:
        path, value = _parse_override(text)
        set_key(raw, path, value)
    return raw


def set_key(raw: dict[str, Any], path: list[str] | tuple[str, ...], value: Any) -> None:
    """Set one dotted key in a raw config mapping, in place, as `--set` does: any other name of the
    same setting (an alias) is dropped first, so the value given here wins."""
    drop_spellings(raw, tuple(path))
    node = raw
    for key in path[:-1]:
        child = node.get(key)
        if isinstance(child, str) and key == "model":
            child = {"name": child}
        node[key] = child if isinstance(child, dict) else {}
        node = node[key]
    node[path[-1]] = value


def _key_line(document: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of a dotted key in the YAML source, for error messages."""
    node, line = document, None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


key_line = _key_line  # for other config sections' own checks (a study's sweep.params)


def _located(source: str, document: yaml.Node | None, path: tuple[Any, ...], message: str) -> LorabenchError:
    line = _key_line(document, path)
    where = f"{source}:{line}" if line else source
    key = ".".join(str(p) for p in path)
    return LorabenchError(f"{where}: {key or '(top level)'}: {message}", field=key or None)


def _as_written(path: tuple[Any, ...], written: Mapping[KeyPath, KeyPath]) -> tuple[Any, ...]:
    """The path the user wrote for a key an alias was moved to (`learning_rate` for training.lr)."""
    for canonical, spelled in written.items():
        if path[: len(canonical)] == canonical:
            return spelled + path[len(canonical) :]
    return path


M = TypeVar("M", bound=BaseModel)


def parse_settings(
    model: type[M], raw: Any, source: str = "config", document: yaml.Node | None = None, prefix: tuple[str, ...] = (),
    written: Mapping[KeyPath, KeyPath] | None = None,
) -> M:
    """Validate `raw` as `model`; the first error names the file, line and dotted key (as `written`
    says the user wrote it, for keys moved from an alias)."""
    if not isinstance(raw, dict):
        line = _key_line(document, prefix) if prefix else (document.start_mark.line + 1 if document is not None else None)
        where = f"{source}:{line}" if line else source
        key = ".".join(prefix) or "(top level)"
        raise LorabenchError(f"{where}: {key}: expected a mapping of settings (key: value lines), got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        loc, reason, _ = first_problem(exc)
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise _located(source, document, _as_written(prefix + loc, written or {}), f"{reason}{more}") from None


def settle_max_length(config: RunConfig, written: Mapping[KeyPath, KeyPath]) -> RunConfig:
    """A config's `max_length` as lorabench's prompt limit.

    TRL's and LLaMA-Factory's max_length bounds prompt + answer; lorabench bounds the prompt
    (prompt.max_prompt_tokens) and lets answers run to decoding.max_new_tokens. So max_length N
    becomes a prompt limit of N minus the task's max_new_tokens: a prompt and its longest generated
    answer fit in N tokens, as they would in those tools. (Training answers are not cut.)
    """
    path = written.get(("prompt", "max_prompt_tokens"))
    if path is None or path[-1] != "max_length":
        return config
    answer = config.decoding.max_new_tokens_for(config.task)
    limit = config.prompt.max_prompt_tokens - answer
    try:
        prompt = PromptSettings.model_validate({**config.prompt.model_dump(), "max_prompt_tokens": limit})
    except ValidationError:
        raise ConfigKeyError(
            path, f"{config.prompt.max_prompt_tokens} tokens for prompt + answer leave {limit} for the prompt once "
            f"the answer's {answer} (decoding.max_new_tokens) are set aside; raise max_length or lower max_new_tokens",
        ) from None
    return config.model_copy(update={"prompt": prompt})


def parse_config(raw: Any, source: str = "config", document: yaml.Node | None = None) -> RunConfig:
    """Validate a run config: aliases to lorabench's names, the schema, then the checks beyond it."""
    written: dict[KeyPath, KeyPath] = {}
    try:
        raw, written = canonical_names(raw)
        config = parse_settings(RunConfig, raw, source, document, written=written)
        config = settle_max_length(config, written)
        check_trainer_args(config.training.trainer_args, config.model.device, config.training.schedule)
    except ConfigKeyError as error:
        also = ""
        if error.also:
            line = _key_line(document, error.also)
            also = f", also as {'.'.join(error.also)}" + (f" (line {line})" if line else "")
        raise _located(source, document, _as_written(error.path, written), error.reason + also) from None
    return config


def read_yaml(path: Path, overrides: list[str] | None = None) -> tuple[dict[str, Any], yaml.Node | None]:
    """A config file's mapping (with `key=value` overrides applied) and its node tree for line numbers."""
    if not path.is_file():
        raise LorabenchError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.compose(text)
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        # An unclosed bracket or quote is found only at the end; the context says where it opened.
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        opened = f"; {context} at line {context_mark.line + 1}" if context and context_mark else ""
        raise LorabenchError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}{opened})") from None
    if overrides:
        raw = apply_overrides(raw, overrides)
    return raw, document


def load_prompt_settings(path: Path) -> PromptSettings:
    """Prompt settings from a YAML (or JSON) file: the `prompt:` section of a run config or of an
    adapter's lorabench.json, or a file of prompt settings alone."""
    raw, document = read_yaml(path)
    if isinstance(raw, dict) and isinstance(raw.get("prompt"), dict):
        return parse_settings(PromptSettings, raw["prompt"], str(path), document, ("prompt",))
    return parse_settings(PromptSettings, raw, str(path), document)


def load_config(path: Path, overrides: list[str] | None = None) -> RunConfig:
    """Read, override and validate a run config file."""
    raw, document = read_yaml(path, overrides)
    if isinstance(raw, dict) and "sweep" in raw:
        raise LorabenchError(f"{path}: has a 'sweep' section: run it with `lorabench study {path}`")
    return parse_config(raw, str(path), document)
