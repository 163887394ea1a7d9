"""`lorabench prompts`: exactly what the model sees, from the config, the data and the tokenizer."""

from __future__ import annotations

import re

import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.tasks.choice import ChoiceRecord
from lorabench.data.synth import synthesize
from lorabench.pipeline.preview import preview_prompts
from lorabench.training.examples import encode_example

runner = CliRunner()


def _config_file(tmp_path, model, data, task="extractive", **sections) -> str:
    config = {"model": str(model), "task": task, "data": {"source": str(data), "split": {"test": 4, "validation": 0}},
              "decoding": {"max_new_tokens": 6}, "out": str(tmp_path / "never"), **sections}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def test_prints_the_training_text_with_learned_tokens_and_the_evaluation_request(tiny_causal_path, tmp_path):
    records = synthesize("extractive", 12, seed=2, short_passages=True)
    # Brackets in data are text, not rich markup: nothing may be restyled or swallowed.
    records[0] = records[0].model_copy(update={"question": "Which [bold]society[/bold] did [/] they found?"})
    data = save_records(records, tmp_path / "qa.jsonl")
    config = _config_file(tmp_path, tiny_causal_path, data, prompt={"answer_prefix": "Reply:"})
    result = runner.invoke(app, ["prompts", config, "--n", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"^2 of \d+ train items; chat template", out, re.M)
    assert out.count("train item ") == 2 and "learned tokens (highlighted)" in out
    assert "<|im_start|>assistant\nReply:" in out and "'<|im_end|>'" in out  # the end token is learned too
    assert "max_new_tokens=6, cut at the end token or at '\\n'" in out
    assert not (tmp_path / "never").exists()  # nothing written

    preview = preview_prompts(RunConfig.model_validate(yaml.safe_load(open(config))), "train", 8, lambda m: None)
    injected = next(v for v in preview.items if "[bold]society[/bold] did [/]" in v.prompt)
    assert f"Question: {injected.prompt.split('Question: ')[1]}" in out  # printed as is
    # The highlighted tokens are exactly the ones training learns.
    from lorabench.models.load import load_tokenizer

    tokenizer = load_tokenizer(RunConfig.model_validate(yaml.safe_load(open(config))).model).tokenizer
    first = preview.items[0]
    record = next(r for r in records if r.id == first.record_id)
    example = encode_example(record, tokenizer, preview.settings, is_seq2seq=False, max_length=512)
    assert first.learned_text == tokenizer.decode(example.input_ids[example.prompt_tokens:])
    assert first.prompt_tokens == example.prompt_tokens


def test_the_test_split_of_a_scored_choice_task_shows_the_options_compared(tiny_causal_path, tmp_path):
    records = [ChoiceRecord(id=f"c{i}", question=f"Which colour is number {i}?", options=[f"red {i}", f"blue {i}"],
                            answer="AB"[i % 2]) for i in range(10)]
    data = save_records(records, tmp_path / "choice.jsonl")
    config = _config_file(tmp_path, tiny_causal_path, data, task="choice", prompt={"few_shot": {"k": 1}})
    result = runner.invoke(app, ["prompts", config, "--split", "test", "--n", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1 of 4 test items" in result.output and "few-shot examples (1, drawn from train" in result.output
    record = next(r for r in records if f"test item 1: {r.id}" in result.output)
    assert f"scores the options after the prompt: red {record.id[1:]} | blue {record.id[1:]}" in result.output
