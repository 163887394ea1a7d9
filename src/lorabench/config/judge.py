"""The `judge:` section: which model grades open answers, with which rubric, and how it is reached.

A judge is either a model lorabench loads itself (`model`: hub id, folder, `.gguf`, packaged alias,
run through the `hf` or `vllm` backend) or an OpenAI-compatible server (`endpoint` + `model`: vLLM's
`vllm serve`, llama.cpp's server, Ollama, a hosted API). Its API key is read from the environment
variable `api_key_env` names; the key itself never appears in a config, a run folder or a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from lorabench.config.settings import ModelSpec
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What a key looks like when someone pastes it where its variable's NAME belongs.
_KEY_LIKE = re.compile(r"^(sk-|hf_|gsk_|xai-)|[^A-Za-z0-9_]")


class JudgeSettings(BaseModel):
    """A judge model for open answers: correctness against the gold, and base-vs-tuned preference."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="The judge: anything lorabench loads (hub id, folder, .gguf, packaged alias such as "
        "smollm2-135m-instruct), or, with `endpoint`, the model name the server knows.",
    )
    endpoint: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vllm serve, "
        "llama.cpp, Ollama, a hosted API). Unset: the judge is loaded here.",
    )
    api_key_env: str | None = Field(
        None,
        description="NAME of the environment variable holding the endpoint's API key (e.g. OPENAI_API_KEY); "
        "the key is read at run time and never written anywhere.",
    )
    backend: Literal["hf", "vllm"] = Field("hf", description="Engine of a judge loaded here.")
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="Device of a judge loaded here: auto, cpu, cuda, cuda:N, mps."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="Weights dtype of a judge loaded here.")
    revision: str | None = Field(None, description="Hub branch, tag or commit of a judge loaded from the hub.")
    trust_remote_code: bool = Field(False, description="Run code shipped with a hub judge; off unless you trust it.")
    correctness_rubric: str | None = Field(
        None, description="Template file replacing the packaged correctness rubric (jinja2: question, gold, answer)."
    )
    preference_rubric: str | None = Field(
        None, description="Template file replacing the packaged preference rubric (jinja2: question, gold, answer_a, answer_b)."
    )
    preference: bool = Field(True, description="Also ask which of base and tuned answered better, in both orders.")
    max_new_tokens: int = Field(96, gt=0, description="Tokens the judge may write per judgment (greedy).")
    batch_size: int = Field(8, gt=0, description="Judgments generated together by a judge loaded here.")
    timeout_s: float = Field(60.0, gt=0, description="Seconds one endpoint request may take before it is retried.")
    max_retries: int = Field(4, ge=0, description="Retries (with backoff) of an endpoint request after a timeout, 429 or 5xx.")
    concurrency: int = Field(
        4, ge=1, le=64,
        description="Endpoint requests in flight at once (1: one at a time). A judge loaded here batches judge.batch_size instead.",
    )
    cache: str | None = Field(
        None,
        description="Judgment cache file (jsonl, append-only; shared across runs). Default: judge_cache.jsonl "
        "under model.cache_dir, or ~/.cache/lorabench.",
    )

    @field_validator("endpoint")
    @classmethod
    def _a_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r}: give an http:// or https:// URL")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _a_name_not_a_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Said without echoing the value: it may be the secret itself.
        if value is not None and (not _ENV_NAME.match(value) or _KEY_LIKE.search(value)):
            raise ValueError("give the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key itself")
        if value is not None and info.data.get("endpoint") is None:
            raise ValueError("is for an endpoint judge; set judge.endpoint or leave api_key_env out")
        return value

    @property
    def is_endpoint(self) -> bool:
        return self.endpoint is not None

    def model_spec(self, cache_dir: str | None = None) -> ModelSpec:
        """The ModelSpec a judge loaded here is loaded with."""
        return ModelSpec(
            name=self.model, device=self.device, dtype=self.dtype, revision=self.revision,
            trust_remote_code=self.trust_remote_code, cache_dir=cache_dir,
        )


JUDGE_PRIMARY = "judge_correct"


def primary_metric_problem(task: Any, primary: str | None, has_judge: bool) -> str | None:
    """Why `metrics.primary` cannot be the run's verdict, or None: it names the task's own primary
    metric, or judge_correct for a kind whose free-text answers a judge grades, with a judge section."""
    if primary is None:
        return None
    own = get_task(task)
    if primary == own.primary_metric:
        return None
    if primary == JUDGE_PRIMARY:
        if not own.judged:
            return f"{JUDGE_PRIMARY} is for tasks whose answers a judge model grades, not {own.kind.value} (its verdict is {own.primary_metric})"
        if not has_judge:
            return f"{JUDGE_PRIMARY} needs a judge: section (the judge model that grades the answers)"
        return None
    allowed = own.primary_metric + (f" or {JUDGE_PRIMARY} (with a judge: section)" if own.judged else "")
    return f"'{primary}' cannot be the verdict of the {own.kind.value} task; use {allowed}"


# A refused api_key_env is named without its value: the value may be the key itself.
_SECRET_FIELDS = {"api_key_env"}


def judge_settings(value: JudgeSettings | Mapping[str, Any] | str | None, file: str | Path | None = None) -> JudgeSettings:
    """Judge settings from an object, a dict of them, or a model name, over the `judge:` section of a
    YAML file (a run config or the section alone); a mistake names `judge.<field>`."""
    if isinstance(value, JudgeSettings) and file is None:
        return value
    values: dict[str, Any] = {}
    if file is not None:
        values.update(_section_of(Path(file)))
    if isinstance(value, JudgeSettings):
        values.update(value.model_dump(exclude_unset=True))
    elif isinstance(value, str):
        values["model"] = value
    elif isinstance(value, Mapping):
        values.update(value)
    elif value is not None:
        raise LorabenchError.about("judge", f"expected JudgeSettings, a dict of its settings or a model name, got {type(value).__name__}")
    if "model" not in values:
        where = f" (nor does {file})" if file is not None else ""
        raise LorabenchError.about("judge.model", "no judge model given" + where + "; name one (a model lorabench loads, "
                                   "or the endpoint's model name)")
    try:
        return JudgeSettings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if isinstance(p, str) and "[" not in p)
        key = f"judge.{field}" if field else "judge"
        got = "" if field in _SECRET_FIELDS or first["type"] == "extra_forbidden" else f" (got {first['input']!r})"
        reason = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise LorabenchError.about(key, f"{reason}{got}" + (f" in {file}" if file is not None else "")) from None


def _section_of(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise LorabenchError(f"{path}: no such file; give a YAML file with a judge: section")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise LorabenchError(f"{path}: not YAML ({str(error).splitlines()[0]})") from None
    section = document.get("judge", document) if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise LorabenchError(f"{path}: no judge: section (a mapping of judge settings)")
    return section
