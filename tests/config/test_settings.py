"""config.settings: the model spec's derived forms."""

from __future__ import annotations

from lorabench.config.settings import ModelSpec


def test_the_unquantized_spec_is_the_same_base_on_the_cpu_in_full_weights() -> None:
    spec = ModelSpec(name="org/model", revision="v1", dtype="bfloat16", device="cuda:1", load_in_4bit=True,
                     trust_remote_code=True, cache_dir="/tmp/cache")
    plain = spec.unquantized("float32")
    assert plain == ModelSpec(name="org/model", revision="v1", dtype="float32", device="cpu", load_in_4bit=False,
                              trust_remote_code=True, cache_dir="/tmp/cache")
    assert spec.load_in_4bit and spec.device == "cuda:1"  # the spec it came from is left as it was
