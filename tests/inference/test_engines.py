"""The two generation engines of the hf backend: the same greedy answers on every architecture the
continuous one takes, padded batches (with the reason) on the ones it does not, a fallback on any
failure of its first forward, and LORABENCH_CHECK_ENGINE=1 checking every forward."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from transformers import AttentionInterface

import tiny_models
from lorabench.inference.base import GenerationRequest
from lorabench.inference.hf import HFBackend
from lorabench.inference import continuous
from lorabench.inference.generate import GenerationSettings
from lorabench.prompts.build import Prompt, encode_prompt

MAX_NEW = 10
# model type -> whether the continuous engine takes it (else: padded, with its reason recorded)
FAMILIES = {
    "llama": True, "qwen2": True, "qwen3": True, "phi3": True, "deepseek_v3": True,
    "mistral": False, "gemma3_text": False,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_models.build_causal_tokenizer()


def _prompts(tokenizer, n: int = 6) -> list[Prompt]:
    """Prompts of different lengths, two of them sharing a 40-word prefix."""
    words = " ".join(tiny_models.CORPUS).split()
    texts = [" ".join(words[i : i + count]) for i, count in enumerate((5, 30, 12, 60, 3, 20))][:n]
    shared = " ".join(words[:40])
    texts += [f"{shared} Who?", f"{shared} When was it?"]
    return [Prompt(f"p{i}", t, "", False, len(encode_prompt(t, tokenizer, False)), False) for i, t in enumerate(texts)]


def _run(model, tokenizer, engine: str, prompts, batch_size: int = 3):
    backend = HFBackend(SimpleNamespace(model=model, tokenizer=tokenizer, is_seq2seq=False), engine=engine)
    requests = [GenerationRequest(p, MAX_NEW) for p in prompts]
    outcome = {g.record_id: (g.text, g.generated_tokens, g.stop_reason) for g in backend.generate(requests, batch_size)}
    return outcome, backend.engine_passes()


# Every family in float32; two of them in bf16 on the CPU too.
MATRIX = [(family, torch.float32) for family in FAMILIES] + [("qwen2", torch.bfloat16), ("llama", torch.bfloat16)]


@pytest.mark.parametrize(("family", "dtype"), MATRIX, ids=[f"{f}-{str(d).removeprefix('torch.')}" for f, d in MATRIX])
def test_every_family_generates_the_same_through_both_engines(family, dtype, tokenizer, caplog):
    model = tiny_models.build_tiny_family(family, tokenizer, dtype)
    prompts = _prompts(tokenizer)
    padded, padded_passes = _run(model, tokenizer, "padded", prompts)
    with caplog.at_level(logging.WARNING):
        ours, passes = _run(model, tokenizer, "continuous", prompts)
    assert ours == padded
    assert len({text for text, _, _ in padded.values()}) > 2  # prompt-dependent answers, not one repeated token
    assert [(p.engine, p.reason) for p in padded_passes] == [("padded", "decoding.engine: padded")]
    if FAMILIES[family]:
        assert [(p.engine, p.items, p.reason) for p in passes] == [("continuous", len(prompts), None)]
        assert "continuous batching is off" not in caplog.text
    else:
        assert passes[0].engine == "padded" and "decoding.engine continuous asked, but:" in passes[0].reason
        assert "decoding.engine is continuous but this model cannot use it" in caplog.text
        assert _run(model, tokenizer, "auto", prompts)[1][0].reason == continuous.unsupported_reason(model)


def test_values_narrower_than_keys_get_a_cache_of_their_own_shape(tokenizer):
    model = tiny_models.build_tiny_family("deepseek_v3", tokenizer)
    prompts = _prompts(tokenizer)
    engine = continuous._Engine(model, tokenizer, continuous._items([(p, encode_prompt(p.text, tokenizer, False)) for p in prompts]),
                                GenerationSettings(MAX_NEW, batch_size=4))
    engine.step(check=True)
    keys, values = engine.cache.keys[0], engine.cache.values[0]
    # What the layer hands the cache differs in size (transformers caches MLA's compressed entries);
    # a value buffer shaped like the keys' made this model crash before.
    assert values.shape[-1] < keys.shape[-1]


def test_any_error_in_the_first_forward_falls_back_with_one_warning(tokenizer, monkeypatch, caplog):
    model = tiny_models.build_tiny_family("llama", tokenizer)
    prompts = _prompts(tokenizer)
    expected, _ = _run(model, tokenizer, "padded", prompts)

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch: value tensor of shape [3, 1, 4]\nmore detail")

    monkeypatch.setitem(AttentionInterface._global_mapping, continuous.ATTENTION_NAME, broken)
    with caplog.at_level(logging.WARNING, logger="lorabench.inference.continuous"):
        ours, passes = _run(model, tokenizer, "auto", prompts)
    assert ours == expected
    warnings = [r.getMessage() for r in caplog.records if r.name == "lorabench.inference.continuous"]
    assert warnings == ["continuous batching is off for this model (RuntimeError: shape mismatch: value tensor of "
                        "shape [3, 1, 4]); generating in padded batches"]
    assert passes[0].engine == "padded" and passes[0].reason.startswith("fell back from continuous: RuntimeError")


def test_check_engine_mode_checks_every_forward_against_a_plain_one(tokenizer, monkeypatch):
    model = tiny_models.build_tiny_family("qwen2", tokenizer)
    prompts = _prompts(tokenizer)
    expected, _ = _run(model, tokenizer, "padded", prompts)
    checked: list[int] = []
    check = continuous._Engine._check

    def counted(self, item, row, logits):
        checked.append(len(logits))
        check(self, item, row, logits)

    monkeypatch.setattr(continuous._Engine, "_check", counted)
    monkeypatch.setenv(continuous.CHECK_ENV, "1")
    forwards: list[int] = []
    forward = continuous._Engine._forward

    def spy(self, rows, copies, running):
        forwards.append(sum(len(row.drafted) + 1 for row in rows))
        return forward(self, rows, copies, running)

    monkeypatch.setattr(continuous._Engine, "_forward", spy)
    ours, passes = _run(model, tokenizer, "continuous", prompts)
    assert ours == expected and passes[0].engine == "continuous"
    assert len(forwards) > 3 and sum(checked) == sum(forwards)  # every logit the engine kept, every forward

    # A forward that goes wrong after the first: nothing to fall back to, so it stops with the evidence.
    def wrong_later(self, rows, copies, running):
        logits, greedy = forward(self, rows, copies, running)
        return (logits + 5 * torch.randn_like(logits), greedy) if self.steps > 1 else (logits, greedy)

    monkeypatch.setattr(continuous._Engine, "_forward", wrong_later)
    with pytest.raises(continuous.Mismatch, match=r"logits differ from a plain forward by .* \(forward 2, item p"):
        _run(model, tokenizer, "continuous", prompts)
    monkeypatch.delenv(continuous.CHECK_ENV)
    assert _run(model, tokenizer, "continuous", prompts)[0]  # unchecked, the same noise goes unnoticed


def test_only_generation_config_fields_known_to_be_neutral_keep_the_engine(tokenizer):
    model = tiny_models.build_tiny_family("llama", tokenizer)
    model.generation_config.temperature = 0.7  # sampling only: greedy decoding ignores it
    model.generation_config.top_p = 0.9
    model.generation_config.repetition_penalty = 1.3  # overridden to 1.0 for both engines
    assert continuous.unsupported_reason(model) is None
    model.generation_config.dola_layers = "low"  # DoLa decoding changes greedy choices
    assert continuous.unsupported_reason(model) == "generation_config.dola_layers='low' may change greedy choices"
    model.generation_config.dola_layers = None
    model.generation_config.sequence_bias = {(5,): -10.0}
    assert "generation_config.sequence_bias" in continuous.unsupported_reason(model)


def test_eval_folders_record_engines_and_versions_and_compare_warns(tiny_causal_path, tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from lorabench.cli import app
    from lorabench.data.records import save_records
    from lorabench.data.synth import synthesize

    runner = CliRunner()
    data = save_records(synthesize("extractive", 6, seed=3), tmp_path / "qa.jsonl")
    argv = ["eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "extractive", "--max-new-tokens", "4"]
    for engine in ("auto", "padded"):
        result = runner.invoke(app, [*argv, "--engine", engine, "--out", str(tmp_path / engine)])
        assert result.exit_code == 0, result.output
    auto = yaml.safe_load((tmp_path / "auto" / "config.yaml").read_text())
    assert auto["engines"] == [{"engine": "continuous", "items": 6}]
    assert set(auto["versions"]) == {"lorabench", "torch", "transformers", "peft"} and all(auto["versions"].values())
    padded = json.loads((tmp_path / "padded" / "metrics.json").read_text())
    assert padded["engines"] == [{"engine": "padded", "items": 6, "reason": "decoding.engine: padded"}]
    assert padded["versions"] == auto["versions"]
    assert yaml.safe_load((tmp_path / "padded" / "config.yaml").read_text())["request"]["decoding"]["engine"] == "padded"

    # Rerun: resumed (nothing generated), the record kept.
    again = runner.invoke(app, [*argv, "--engine", "padded", "--out", str(tmp_path / "padded")])
    assert again.exit_code == 0 and "resumed: 6" in again.output
    assert yaml.safe_load((tmp_path / "padded" / "config.yaml").read_text())["engines"] == padded["engines"]

    compared = runner.invoke(app, ["compare", str(tmp_path / "auto"), str(tmp_path / "padded")])
    assert compared.exit_code == 0, compared.output  # the same answers: a warning, not a refusal
    said = " ".join(compared.output.split())
    assert ("warning: generated by different engines: A continuous (6 items); B padded (6 items: decoding.engine: "
            "padded)") in said
    assert "versions" not in said

    # A folder made under another transformers release (resumed under this one: both are kept).
    config = yaml.safe_load((tmp_path / "padded" / "config.yaml").read_text())
    config["versions"]["transformers"] = "5.0.0"
    (tmp_path / "padded" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert runner.invoke(app, [*argv, "--engine", "padded", "--out", str(tmp_path / "padded")]).exit_code == 0
    resumed = yaml.safe_load((tmp_path / "padded" / "config.yaml").read_text())
    assert resumed["earlier_versions"][0]["transformers"] == "5.0.0"
    compared = runner.invoke(app, ["compare", str(tmp_path / "auto"), str(tmp_path / "padded"), "--json"])
    warnings = json.loads(compared.output)["warnings"]
    assert any(w.startswith("made with different transformers versions: A ") and "5.0.0" in w for w in warnings)


def test_the_engine_setting_is_the_hf_backends_and_left_out_of_saved_settings_when_auto():
    from pydantic import ValidationError

    from lorabench.config.decoding import DecodingSettings

    assert "engine" not in DecodingSettings().model_dump()  # saved configs and fingerprints as before
    assert DecodingSettings(engine="padded").model_dump()["engine"] == "padded"
    with pytest.raises(ValidationError, match="'padded' applies to the hf backend only, not 'vllm'"):
        DecodingSettings(engine="padded", backend="vllm")
