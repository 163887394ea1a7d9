"""Multiple choice is trained to write what its choice_mode scores: the option's text under logprob,
its label under letter and generate; an adapter evaluated under the other mode is refused."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.config.run import RunConfig, parse_config
from lorabench.data.records import save_records
from lorabench.tasks.choice import ChoiceRecord
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task
from lorabench.prompts.few_shot import FewShotSettings, draw_examples
from lorabench.pipeline.run import run_pipeline
from lorabench.prompts.build import PromptSettings, build_prompt, follow_choice_mode, prompt_sha256, target_text
from tiny_models import build_causal_tokenizer

runner = CliRunner()
RECORD = ChoiceRecord(id="f1-7", question="Which driver won the 2008 championship?",
                      options=["Lewis Hamilton", " Felipe Massa ", "Kimi Räikkönen"], answer="B")


def test_the_target_is_the_option_text_under_logprob_and_the_label_otherwise():
    assert target_text(RECORD, PromptSettings()) == "B"  # the settings' default, as before
    assert target_text(RECORD, PromptSettings(choice_answer="text")) == "Felipe Massa"  # as scoring reads it
    for mode, answer in (("logprob", "text"), ("letter", "label"), ("generate", "label")):
        assert follow_choice_mode("choice", PromptSettings(), mode).choice_answer == answer
    assert follow_choice_mode("extractive", PromptSettings(), "logprob").choice_answer == "label"


def test_a_run_config_follows_its_choice_mode_and_refuses_a_contrary_choice_answer():
    base = {"model": "org/m", "task": "choice", "data": {"source": "mc.jsonl"}}
    config = parse_config(dict(base))
    assert config.prompt.choice_answer == "text" and "choice_answer: text" in config.to_yaml()
    assert parse_config(parse_config(dict(base)).model_dump(mode="json")).prompt.choice_answer == "text"  # saved, reread
    letter = parse_config({**base, "decoding": {"choice_mode": "letter"}})
    assert letter.prompt.choice_answer == "label" and "choice_answer" not in letter.to_yaml()
    with pytest.raises(LorabenchError, match="prompt.choice_answer 'label' but decoding.choice_mode 'logprob'"):
        parse_config({**base, "prompt": {"choice_answer": "label"}})
    extractive = parse_config({**base, "task": "extractive"})
    assert "choice_answer" not in extractive.to_yaml()  # other tasks' saved configs are unchanged
    assert parse_config({**base, "choice_scoring": "sum"}).decoding.choice_normalization == "sum"


def test_few_shot_answers_and_the_fingerprint_follow_the_mode():
    tokenizer = build_causal_tokenizer()
    pool = synthesize("choice", 6, seed=4)
    few_shot = draw_examples(pool, FewShotSettings(k=2, seed=0), get_task("choice"))
    shots = {mode: build_prompt(RECORD, tokenizer, PromptSettings(few_shot=few_shot, choice_answer=mode, max_prompt_tokens=1 << 20))
             for mode in ("label", "text")}
    shown = [r for r in pool if r.question in shots["text"].text]
    assert len(shown) == 2
    for record in shown:
        assert f"<|im_start|>assistant\n{record.answer_text.strip()}<|im_end|>" in shots["text"].text
        assert f"<|im_start|>assistant\n{record.answer}<|im_end|>" in shots["label"].text
    assert (prompt_sha256(get_task("choice"), tokenizer, PromptSettings(choice_answer="text"))
            != prompt_sha256(get_task("choice"), tokenizer, PromptSettings()))


def _choice_config(model, data, out, **decoding) -> RunConfig:
    return RunConfig.model_validate({
        "model": str(model), "task": "choice",
        "data": {"source": str(data), "split": {"test": 6, "validation": 2, "seed": 0}},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "training": {"max_steps": 2, "batch_size": 4, "lr": 5e-3, "val_metric_items": 2, "logging_steps": 1},
        "decoding": {"batch_size": 4, **decoding},
        "metrics": {"bootstrap_resamples": 200},
        "out": str(out),
    })


def test_prompts_shows_the_option_text_as_the_learned_tokens_under_logprob(tiny_causal_path, tmp_path):
    records = synthesize("choice", 12, seed=5)
    data = save_records(records, tmp_path / "mc.jsonl")
    outputs = {}
    for mode in ("logprob", "letter"):
        path = tmp_path / f"{mode}.yaml"
        path.write_text(yaml.safe_dump(_choice_config(tiny_causal_path, data, tmp_path / "never", choice_mode=mode)
                                       .model_dump(mode="json")))
        result = runner.invoke(app, ["prompts", str(path), "--n", "1"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        outputs[mode] = result.output
    record = next(r for r in records if f"train item 1: {r.id}" in outputs["logprob"])
    tokenizer = build_causal_tokenizer()
    pieces = [tokenizer.decode([t]) for t in tokenizer(record.answer_text.strip(), add_special_tokens=False)["input_ids"]]
    learned = " ".join(repr(p) for p in [*pieces, "<|im_end|>"])
    assert f"learned tokens: {learned}\n" in outputs["logprob"]
    assert f"<|im_start|>assistant\n{record.answer_text.strip()}<|im_end|>" in outputs["logprob"]
    assert f"learned tokens: '{record.answer}' '<|im_end|>'\n" in outputs["letter"]
    # Each mode asks for what it trains, and says how it reads the answer.
    assert "Answer with the text of the correct option." in outputs["logprob"]
    assert "Answer with the letter of the correct option." in outputs["letter"]
    assert f"scores the options after the prompt: {' | '.join(record.options)}" in outputs["logprob"]
    assert "compares the probabilities of the labels as the next token: A | B | C | D" in outputs["letter"]


def test_a_logprob_run_learns_option_texts_and_the_other_mode_is_refused(tiny_causal_path, tmp_path):
    data = save_records(synthesize("choice", 24, seed=6), tmp_path / "mc.jsonl")
    out = tmp_path / "run"
    result = run_pipeline(_choice_config(tiny_causal_path, data, out), say=lambda m: None)
    adapter = out / "train" / "adapter"
    meta = json.loads((adapter / "lorabench.json").read_text())
    assert meta["prompt"]["choice_answer"] == "text"
    assert all(r["stop_reason"] == "logprob" for r in result.tuned.rows)
    assert next(f for f in result.findings if f.name == "format_mismatch").ok

    # The same adapter, evaluated by letter: refused at the target's first line, naming the mode.
    test = out / "data" / "test.jsonl"
    argv = ["eval", "-m", str(tiny_causal_path), "-d", str(test), "-t", "choice", "--adapter", str(adapter),
            "--choice-mode", "letter"]
    refused = runner.invoke(app, [*argv, "--out", str(tmp_path / "refused")])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "Traceback" not in refused.output, refused.output
    assert ('first differing line: trained "Answer with the text of the correct option." vs now "Answer with the '
            'letter of the correct option."') in said
    assert "--choice-mode logprob: the adapter was trained to write the option's text" in said
    assert not (tmp_path / "refused").exists()
    anyway = runner.invoke(app, [*argv, "--out", str(tmp_path / "anyway"), "--allow-prompt-change"])
    assert anyway.exit_code == 0, anyway.output
    recorded = json.loads((tmp_path / "anyway" / "metrics.json").read_text())["prompt_change"]
    assert recorded["trained"] == "Answer with the text of the correct option." and recorded["allowed_by"] == "--allow-prompt-change"
    same = runner.invoke(app, [*argv[:-2], "--out", str(tmp_path / "same")])  # logprob, as trained
    assert same.exit_code == 0, same.output

    # The run folder under the other mode: refused, then evaluated anyway with the guard in red.
    letter = _choice_config(tiny_causal_path, data, out, choice_mode="letter")
    with pytest.raises(LorabenchError, match='first differing line: trained "Answer with the text of the correct option."'):
        run_pipeline(letter, say=lambda m: None)
    kept = run_pipeline(letter, say=lambda m: None, allow_prompt_change=True)
    assert kept.train is None  # the adapter was kept, not retrained
    guard = next(f for f in kept.findings if f.name == "format_mismatch")
    assert not guard.ok and "first differing line" in guard.message
