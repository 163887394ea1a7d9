"""Fixtures for the tests of prompt strategies: the tiny causal tokenizer and seven extractive
records with short passages, several questions to a context (so batch and sequential have groups)."""

from __future__ import annotations

import pytest

from lorabench.data.synth import synthesize
from tests.tiny_models import build_causal_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_causal_tokenizer()


@pytest.fixture(scope="module")
def records():
    return synthesize("extractive", 7, seed=1, short_passages=True)
