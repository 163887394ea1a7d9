"""The `judge:` section: which model grades open answers, with which rubric, and how it is reached.

A judge is either a model lorabench loads itself (`model`: hub id, folder, `.gguf`, packaged alias,
run through the `hf` or `vllm` backend) or an OpenAI-compatible server (`endpoint` + `model`: vLLM's
`vllm serve`, llama.cpp's server, Ollama, a hosted API). Its API key is read from the environment
variable `api_key_env` names; the key itself never appears in a config, a run folder or a log.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lorabench.config.settings import ModelSpec

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
    device: str = Field("auto", description="Device of a judge loaded here: auto, cpu, cuda, cuda:N, mps.")
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
    cache: str | None = Field(
        None,
        description="Judgment cache file (jsonl, append-only; shared across runs). Default: judge_cache.jsonl "
        "under model.cache_dir, or ~/.cache/lorabench.",
    )

    @field_validator("api_key_env")
    @classmethod
    def _a_name_not_a_key(cls, value: str | None) -> str | None:
        # Said without echoing the value: it may be the secret itself.
        if value is not None and (not _ENV_NAME.match(value) or _KEY_LIKE.search(value)):
            raise ValueError("give the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key itself")
        return value

    @model_validator(mode="after")
    def _endpoint_or_local(self) -> "JudgeSettings":
        if self.endpoint is None and self.api_key_env is not None:
            raise ValueError("api_key_env is for an endpoint judge; set judge.endpoint or leave api_key_env out")
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint {self.endpoint!r}: give an http:// or https:// URL")
        return self

    @property
    def is_endpoint(self) -> bool:
        return self.endpoint is not None

    def model_spec(self, cache_dir: str | None = None) -> ModelSpec:
        """The ModelSpec a judge loaded here is loaded with."""
        return ModelSpec(
            name=self.model, device=self.device, dtype=self.dtype, revision=self.revision,
            trust_remote_code=self.trust_remote_code, cache_dir=cache_dir,
        )
