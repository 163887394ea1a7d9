import json

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def _predictions(tmp_path):
    path = tmp_path / "preds.jsonl"
    rows = [
        {"id": "a", "gold": ["Velmora"], "prediction": "Velmora"},
        {"id": "b", "gold": ["1842"], "prediction": "It was 1842."},
        {"id": "c", "gold": ["the Brevik Guild"], "prediction": "Oslet"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_prints_table_and_writes_metrics(tmp_path):
    path = _predictions(tmp_path)
    result = runner.invoke(app, ["score", str(path), "--task", "extractive"])
    assert result.exit_code == 0, result.output
    assert "exact_match" in result.output and "short" in result.output
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == 3


def test_score_json_is_one_object_with_fractions(tmp_path):
    path = _predictions(tmp_path)
    result = runner.invoke(app, ["score", str(path), "--task", "extractive", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 3
    assert abs(payload["exact_match"] - 1 / 3) < 1e-6
    assert payload["lenient_match"] == 2 / 3 or abs(payload["lenient_match"] - 2 / 3) < 1e-6
    for name in ("exact_match", "f1", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc"):
        assert 0.0 <= payload[name] <= 1.0
    assert payload["short"]["n"] == 3


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"gold": "x", "prediction": "x"}\n{"gold": "x"}\n')
    result = runner.invoke(app, ["score", str(path), "--task", "extractive"])
    assert result.exit_code == 2
    assert f"{path}:2: field 'prediction'" in result.output.replace("\n", "")
    assert "Traceback" not in result.output


def test_synth_then_leakage_clean_and_leaky(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert runner.invoke(app, ["synth", "--task", "math", "-n", "20", "--seed", "1", "--out", str(a)]).exit_code == 0
    assert runner.invoke(app, ["synth", "--task", "math", "-n", "20", "--seed", "2", "--out", str(b)]).exit_code == 0
    clean = runner.invoke(app, ["leakage", str(a), str(b), "--task", "math"])
    assert clean.exit_code == 0, clean.output
    leaky = runner.invoke(app, ["leakage", str(a), str(a), "--task", "math"])
    assert leaky.exit_code == 1
    assert "identical" in leaky.output


def test_help_at_80_columns_shows_every_option_name_whole():
    import click
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, result.output
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts:
                    assert flag in result.output, f"{name} --help at 80 columns lacks {flag}"
        assert "…" not in result.output


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
