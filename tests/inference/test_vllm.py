"""The vllm backend. Without vLLM it must refuse with the install hint; with vLLM and a CUDA GPU
(`gpu` tests) it must see the hf backend's tokens and agree with its answers and scores."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from typer.testing import CliRunner

import tiny_models
from lorabench.inference import get_backend
from lorabench.inference.base import GenerationRequest, OptionRequest, option_continuations
from lorabench.inference.hf import HFBackend
from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import STOP_STRINGS, PromptSettings, build_prompt

HAS_VLLM = importlib.util.find_spec("vllm") is not None
EXTRACTIVE = synthesize("extractive", 8, seed=3)
CHOICE = synthesize("choice", 6, seed=3)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed: the missing-extra message cannot show")
def test_without_vllm_the_backend_names_the_extra(tiny_causal_path, tmp_path):
    loaded = load_model(ModelSpec(name=str(tiny_causal_path), device="cpu"))
    with pytest.raises(LorabenchError, match=r"pip install 'lorabench\[vllm\]' \(needs a CUDA GPU\)"):
        get_backend("vllm", loaded)

    data = save_records(EXTRACTIVE, tmp_path / "qa.jsonl")
    args = ["eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "extractive", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--backend", "vllm"])
    assert result.exit_code == 2
    assert "lorabench[vllm]" in result.output.replace("\n", "") and "Traceback" not in result.output


def test_an_unknown_backend_is_refused_naming_the_option(tiny_causal_path, tmp_path):
    data = save_records(EXTRACTIVE, tmp_path / "qa.jsonl")
    args = ["eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "extractive", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--backend", "tpu"])
    assert result.exit_code == 2
    assert "--backend" in result.output and "Traceback" not in result.output


# --- on a GPU ----------------------------------------------------------------------------------------


def gpu(test):
    """Runs only with vLLM and a CUDA GPU, and says which one is missing otherwise."""
    test = pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed: pip install 'lorabench[vllm]'")(test)
    test = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")(test)
    return pytest.mark.gpu(test)


@pytest.fixture(scope="module")
def wide_causal_path(tmp_path_factory):
    # Head size 64, which every vLLM attention kernel takes (the default tiny model's is 16).
    return tiny_models.build_tiny_causal(tmp_path_factory.mktemp("wide_causal"), hidden_size=256)


@pytest.fixture(scope="module")
def pair(wide_causal_path):
    """The same bf16 weights behind both backends."""
    loaded = load_model(ModelSpec(name=str(wide_causal_path), device="cuda", dtype="bfloat16"))
    return HFBackend(loaded), get_backend("vllm", loaded)


@gpu
def test_vllm_generates_from_the_same_tokens_as_hf(pair):
    hf, vllm = pair
    stops = STOP_STRINGS[EXTRACTIVE[0].task]
    requests = [GenerationRequest(build_prompt(r, hf.tokenizer, PromptSettings()), 8, stops) for r in EXTRACTIVE]
    ours = {g.record_id: g for g in vllm.generate(requests, batch_size=4)}
    theirs = {g.record_id: g for g in hf.generate(requests, batch_size=4)}
    assert ours.keys() == theirs.keys()
    for record_id, gen in ours.items():
        assert gen.prompt_tokens == theirs[record_id].prompt_tokens  # token for token the same prompt
        assert gen.stop_reason in ("eos", "stop_string", "max_new_tokens")
        assert gen.hit_max_new_tokens == (gen.stop_reason == "max_new_tokens")
        assert 1 <= gen.generated_tokens <= 8
    # bf16 kernels differ, so a near tie may flip; most greedy answers must still agree.
    same = sum(ours[i].text.split("\n")[0] == theirs[i].text.split("\n")[0] for i in ours)
    assert same >= len(ours) // 2


@gpu
def test_vllm_option_scores_match_hf(pair):
    hf, vllm = pair
    prompts = [build_prompt(r, hf.tokenizer, PromptSettings()) for r in CHOICE]
    requests = [OptionRequest(p, tuple(option_continuations(r, p)), tuple(r.labels)) for r, p in zip(CHOICE, prompts)]
    for ours, theirs in zip(vllm.score_options(requests), hf.score_options(requests)):
        assert ours.record_id == theirs.record_id and ours.n_tokens == theirs.n_tokens
        assert ours.sum_logprob == pytest.approx(theirs.sum_logprob, abs=0.1)


@gpu
def test_the_runner_scores_an_adapter_through_vllm_as_through_hf(wide_causal_path, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorabench.evaluation.runner import evaluate_records
    from lorabench.config.decoding import DecodingSettings
    from lorabench.metrics.scoring import ScoreSettings

    base = AutoModelForCausalLM.from_pretrained(wide_causal_path)
    lora = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")  # random B: the adapter changes the scores
    loaded = load_model(ModelSpec(name=str(wide_causal_path), device="cuda", dtype="bfloat16"), adapter=str(tmp_path / "adapter"))

    def rows(backend: str):
        decoding = DecodingSettings(backend=backend, choice_normalization="sum")
        return evaluate_records(loaded, CHOICE, PromptSettings(), decoding, ScoreSettings()).rows

    for ours, theirs in zip(rows("vllm"), rows("hf")):
        assert ours["id"] == theirs["id"] and ours["prompt_tokens"] == theirs["prompt_tokens"]
        labels = list(theirs["option_logprob"])
        assert [ours["option_logprob"][k] for k in labels] == pytest.approx(
            [theirs["option_logprob"][k] for k in labels], abs=0.1
        )
