"""The training tests' items: twelve synthetic extractive records, made once per module."""

from __future__ import annotations

import pytest

from lorabench.data.synth import synthesize


@pytest.fixture(scope="module")
def records():
    return synthesize("extractive", 12, seed=1)
