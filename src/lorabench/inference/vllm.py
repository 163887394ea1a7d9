"""The `vllm` backend: the same requests served by vLLM's engine (a CUDA GPU and the `vllm` extra).

What keeps its numbers comparable with `hf`:

- prompts go in as token ids (`TokensPrompt`) from `prompts.encode_prompt`, so the model sees the
  tokens the hf backend and training use, token for token; options from `encode_options`;
- decoding is greedy (`temperature=0`) with the stop token ids hf stops on (EOS of tokenizer and
  generation config, end-of-turn markers) and the checkpoint's generation_config not applied;
- option log-probabilities come from `prompt_logprobs` over prompt + option, summed over the
  option's tokens; letters are one-token options (as hf's letter read-out is).

Greedy outputs agree with hf up to the kernels' floating point (batch composition and bf16 can
flip a near tie), so compare runs of one backend with each other. Generated text is cut right
after a matched stop string (hf keeps the rest of the token that completed it); the scored answer
is cut at the stop strings either way.

The engine is built once per base model and kept: the base and the tuned model of a run share it,
the adapter riding along as a `LoRARequest`, and prefix caching reuses a passage's keys/values
across its questions (the hf backend's shared-prefix prefill, done by the engine).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lorabench.inference.base import (
    Backend,
    Generation,
    GenerationRequest,
    LetterRequest,
    LetterScores,
    OptionRequest,
    OptionScores,
    Progress,
    encode_options,
)
from lorabench.core.errors import LorabenchError
from lorabench.models.load import LoadedModel
from lorabench.prompts.build import encode_prompt

INSTALL_HINT = "pip install 'lorabench[vllm]' (needs a CUDA GPU)"
# vLLM's share of GPU memory; the rest holds the transformers copy lorabench loads for the tokenizer and config.
GPU_MEMORY_UTILIZATION = 0.8
# vLLM batches continuously; requests go in chunks this large so the run folder still fills as it goes.
MIN_CHUNK = 256
# Ranks vLLM compiles LoRA kernels for; an engine is built for the smallest that fits (at least 64,
# so the base model's engine can serve a typical adapter too).
LORA_RANKS = (8, 16, 32, 64, 128, 256, 512)
MIN_LORA_RANK = 64

_ENGINES: dict[tuple[Any, ...], Any] = {}
_LORA_IDS: dict[str, int] = {}


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as error:
        raise LorabenchError(f"the vllm backend needs vLLM: {INSTALL_HINT}; or use --backend hf") from error
    return vllm


def _adapter_rank(adapter: str | None) -> int:
    if adapter is None:
        return 0
    config = Path(adapter) / "adapter_config.json"
    try:
        return int(json.loads(config.read_text()).get("r", 0))
    except (OSError, ValueError) as error:
        raise LorabenchError(f"{config}: cannot read the adapter's rank ({error})") from error


def _max_lora_rank(adapter: str | None) -> int:
    rank = max(MIN_LORA_RANK, _adapter_rank(adapter))
    fitting = [r for r in LORA_RANKS if r >= rank]
    if not fitting:
        raise LorabenchError(f"LoRA rank {rank} is above the {LORA_RANKS[-1]} vLLM supports; use --backend hf")
    return fitting[0]


def _check_servable(loaded: LoadedModel) -> None:
    if loaded.is_seq2seq:
        raise LorabenchError("the vllm backend runs decoder-only models; use --backend hf for encoder-decoder ones")
    if loaded.source.kind == "gguf" or loaded.source.gguf_file:
        raise LorabenchError("the vllm backend loads hub ids and model folders, not GGUF files; use --backend hf")
    if loaded.spec.load_in_4bit:
        raise LorabenchError("the vllm backend does not load bitsandbytes 4-bit models; use --backend hf")


def _engine(vllm: Any, loaded: LoadedModel) -> Any:
    dtype = str(loaded.dtype).removeprefix("torch.")
    max_lora_rank = _max_lora_rank(loaded.adapter)
    key = (loaded.source.path, loaded.source.revision, dtype, loaded.spec.trust_remote_code, max_lora_rank)
    if key not in _ENGINES:
        _ENGINES.clear()  # one engine at a time: a second would not fit next to the first
        _ENGINES[key] = vllm.LLM(
            model=loaded.source.path,
            tokenizer=loaded.source.path,
            revision=loaded.source.revision,
            trust_remote_code=loaded.spec.trust_remote_code,
            dtype=dtype,
            seed=0,
            enable_lora=True,
            max_lora_rank=max_lora_rank,
            max_loras=1,
            enable_prefix_caching=True,
            generation_config="vllm",  # greedy means greedy: no sampling defaults from the checkpoint
            gpu_memory_utilization=GPU_MEMORY_UTILIZATION,
        )
    return _ENGINES[key]


def _logprob(value: Any) -> float:
    return float(getattr(value, "logprob", value))


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, loaded: LoadedModel) -> None:
        vllm = _import_vllm()
        import torch

        if not torch.cuda.is_available():
            raise LorabenchError(f"the vllm backend needs a CUDA GPU and none is visible; use --backend hf ({INSTALL_HINT})")
        _check_servable(loaded)
        from vllm.lora.request import LoRARequest

        from lorabench.inference.generate import stop_token_ids

        self.tokenizer = loaded.tokenizer
        self.config = loaded.model.config
        self.is_seq2seq = False
        self._vllm = vllm
        self._stop_ids = stop_token_ids(loaded.tokenizer, loaded.model)
        self._llm = _engine(vllm, loaded)
        self._lora = LoRARequest("adapter", _lora_id(loaded), loaded.adapter) if loaded.adapter else None

    def _tokens(self, ids: list[int]) -> Any:
        from vllm.inputs import TokensPrompt

        return TokensPrompt(prompt_token_ids=ids)

    def _run(self, prompts: list[Any], params: Any) -> list[Any]:
        return self._llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora)

    def generate(
        self, requests: Sequence[GenerationRequest], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Generation]:
        chunk = max(batch_size, MIN_CHUNK)
        for start in range(0, len(requests), chunk):
            part = requests[start : start + chunk]
            encoded = [encode_prompt(r.prompt.text, self.tokenizer, r.prompt.chat) for r in part]
            params = [self._sampling(r) for r in part]
            started = time.perf_counter()
            outputs = self._run([self._tokens(ids) for ids in encoded], params)
            elapsed = time.perf_counter() - started
            if progress is not None:
                progress(len(part))
            for request, ids, output in zip(part, encoded, outputs):
                yield _generation(request, len(ids), output.outputs[0], elapsed / len(part))

    def _sampling(self, request: GenerationRequest) -> Any:
        return self._vllm.SamplingParams(
            temperature=0.0,
            max_tokens=request.max_new_tokens,
            stop=list(request.stop_strings) or None,
            stop_token_ids=self._stop_ids,
            include_stop_str_in_output=True,  # hf's text is not cut at stop strings either
            skip_special_tokens=True,
        )

    def score_options(self, requests: Sequence[OptionRequest]) -> list[OptionScores]:
        """Every option of every request in one engine call: prompt + option, with prompt log-probs."""
        inputs: list[list[int]] = []
        spans: list[tuple[int, int]] = []  # per request: its first option's index and the option count
        prompt_lengths: list[int] = []
        options_of: list[list[list[int]]] = []
        for r in requests:
            prompt_ids = encode_prompt(r.prompt.text, self.tokenizer, r.prompt.chat)
            options = encode_options(r.record_id, list(r.continuations), list(r.labels), self.tokenizer, r.prompt.bare_answer)
            spans.append((len(inputs), len(options)))
            inputs.extend(prompt_ids + ids for ids in options)
            prompt_lengths.extend([len(prompt_ids)] * len(options))
            options_of.append(options)
        # max_tokens=1 because the engine must generate something; that token is ignored.
        params = self._vllm.SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=1, detokenize=False)
        outputs = self._run([self._tokens(ids) for ids in inputs], params) if inputs else []
        sums = []
        for ids, n_prompt, output in zip(inputs, prompt_lengths, outputs):
            # prompt_logprobs[i] holds log P(token i | tokens before it), the actual token always among them.
            positions = range(n_prompt, len(ids))
            sums.append(sum(_logprob(output.prompt_logprobs[i][ids[i]]) for i in positions))
        return [
            OptionScores(
                record_id=r.record_id,
                labels=list(r.labels),
                sum_logprob=sums[first : first + count],
                n_tokens=[len(ids) for ids in options],
                n_chars=[len(text) for text in r.continuations],
            )
            for r, (first, count), options in zip(requests, spans, options_of)
        ]

    def score_letters(self, requests: Sequence[LetterRequest]) -> list[LetterScores]:
        """A label encoded as an answer and scored as a (usually one-token) option."""
        as_options = [OptionRequest(r.prompt, r.labels, r.labels) for r in requests]
        return [
            LetterScores(scores.record_id, dict(zip(scores.labels, scores.sum_logprob)))
            for scores in self.score_options(as_options)
        ]


def _lora_id(loaded: LoadedModel) -> int:
    """The engine caches adapters by id: the same adapter keeps its id, a retrained one gets a new one."""
    key = loaded.adapter_sha256 or str(loaded.adapter)
    return _LORA_IDS.setdefault(key, len(_LORA_IDS) + 1)


def _generation(request: GenerationRequest, prompt_tokens: int, completion: Any, latency_s: float) -> Generation:
    """vLLM's finish_reason is 'length' at max_tokens, else 'stop'; its stop_reason is the stop
    string matched, a stop token id, or None for the tokenizer's EOS."""
    if completion.finish_reason == "length":
        reason = "max_new_tokens"
    elif isinstance(completion.stop_reason, str):
        reason = "stop_string"
    else:
        reason = "eos"
    return Generation(
        record_id=request.record_id,
        text=completion.text,
        prompt_tokens=prompt_tokens,
        generated_tokens=len(completion.token_ids),
        latency_s=latency_s,
        hit_max_new_tokens=reason == "max_new_tokens",
        stop_reason=reason,
    )
