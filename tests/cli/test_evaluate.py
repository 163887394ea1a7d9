"""`lorabench eval`: adapters, chat files, and an adapter trained under other prompts."""

import json

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_eval_with_an_adapter_names_it_in_the_table_title(tiny_causal_path, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorabench.data.records import save_records
    from lorabench.data.synth import synthesize

    model = AutoModelForCausalLM.from_pretrained(tiny_causal_path)
    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")).save_pretrained(
        tmp_path / "adapter"
    )
    save_records(synthesize("extractive", 4, seed=1), tmp_path / "qa.jsonl")
    monkeypatch.chdir(tmp_path)
    argv = ["eval", "-m", str(tiny_causal_path), "-d", "qa.jsonl", "-t", "extractive", "--adapter", "adapter",
            "--max-new-tokens", "2", "--out", "run"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "+ adapter adapter on qa.jsonl" in " ".join(result.output.split())  # the table title may wrap


def test_eval_and_leakage_read_a_chat_file_without_options(tiny_causal_path, tmp_path):
    from tests.pipeline.test_run import write_chat_file

    chat_file = write_chat_file(tmp_path / "chat.jsonl", 3, seed=1)
    argv = ["eval", "-m", str(tiny_causal_path), "-d", str(chat_file), "-t", "open", "--max-new-tokens", "2",
            "--out", str(tmp_path / "run")]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and "Welcome, reader 0." in rows[0]["prompt"]
    other = write_chat_file(tmp_path / "other.jsonl", 3, seed=2)
    assert runner.invoke(app, ["leakage", str(chat_file), str(other), "--task", "open"]).exit_code == 0
    assert runner.invoke(app, ["leakage", str(chat_file), str(chat_file), "--task", "open"]).exit_code == 1


def test_eval_refuses_an_adapter_trained_with_other_prompts_unless_allowed(tiny_causal_path, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lorabench.data.records import save_records
    from lorabench.data.synth import synthesize
    from lorabench.prompts.build import PromptSettings

    adapter = tmp_path / "adapter"
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_path)
    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM")).save_pretrained(adapter)
    trained = PromptSettings(answer_prefix="The answer is", max_prompt_tokens=400)
    (adapter / "lorabench.json").write_text(json.dumps({"prompt": trained.model_dump(mode="json")}))
    data = save_records(synthesize("extractive", 3, seed=1, short_passages=True), tmp_path / "qa.jsonl")
    argv = ["eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "extractive", "--adapter", str(adapter),
            "--max-new-tokens", "2"]

    refused = runner.invoke(app, [*argv, "--out", str(tmp_path / "refused")])
    output = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert f"prompt settings differ from the adapter's training ({adapter / 'lorabench.json'})" in output
    assert 'first differing line: trained "The answer is" vs now ""' in output
    assert "pass --allow-prompt-change to evaluate anyway" in output and not (tmp_path / "refused").exists()

    same = runner.invoke(app, [*argv, "--out", str(tmp_path / "same"), "--prompt", str(adapter / "lorabench.json")])
    assert same.exit_code == 0, same.output
    rows = [json.loads(line) for line in (tmp_path / "same" / "predictions.jsonl").read_text().splitlines()]
    assert all(r["prompt"].endswith("<|im_start|>assistant\nThe answer is") for r in rows)

    anyway = runner.invoke(app, [*argv, "--out", str(tmp_path / "anyway"), "--allow-prompt-change"])
    assert anyway.exit_code == 0, anyway.output
    assert "evaluated under prompts the adapter was not trained with" in " ".join(anyway.output.split())
    recorded = json.loads((tmp_path / "anyway" / "metrics.json").read_text())["prompt_change"]
    assert recorded["allowed_by"] == "--allow-prompt-change" and recorded["trained"] == "The answer is"
    assert "prompt_change:" in (tmp_path / "anyway" / "config.yaml").read_text()
