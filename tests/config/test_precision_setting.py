"""model.dtype as a setting: its choices, errors that name the key, and what `auto` resolves to."""

from __future__ import annotations

import pytest
import torch

import lorabench
from lorabench.config.run import load_config
from lorabench.core.errors import LorabenchError
from lorabench.models.load import resolve_dtype

CONFIG = """model:
  name: smollm2-135m-instruct
  dtype: {dtype}
task: extractive
data: {{source: qa.jsonl}}
"""


@pytest.mark.parametrize("dtype", ["auto", "float32", "bfloat16", "float16"])
def test_every_precision_is_a_valid_setting(tmp_path, dtype):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG.format(dtype=dtype))
    assert load_config(path).model.dtype == dtype


def test_a_bad_precision_names_the_file_line_key_and_choices(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(CONFIG.format(dtype="half"))
    with pytest.raises(LorabenchError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}:3: model.dtype") and "'bfloat16'" in message and "'float16'" in message


def test_a_bad_precision_through_the_api_names_the_key(tmp_path):
    with pytest.raises(LorabenchError, match=r"^model\.dtype: "):
        lorabench.evaluate({"name": "smollm2-135m-instruct", "dtype": "fp8"}, tmp_path / "qa.jsonl", "extractive")


def test_auto_is_float32_on_a_cpu_and_a_given_precision_is_kept():
    assert resolve_dtype("auto", "cpu") == torch.float32  # the demo's table on every CPU
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    assert resolve_dtype("float32", "cuda") == torch.float32
