"""The built-in kinds render, fingerprint and score synthetic records exactly as they did before
each kind owned its behaviour: the hashes below were computed on the code before that change."""

from __future__ import annotations

import hashlib
import json

import pytest

from lorabench.core.kinds import TaskKind, get_task
from lorabench.data.synth import synthesize
from lorabench.evaluation.rows import item_scores
from lorabench.prompts.answers import answer_from_generation
from lorabench.prompts.build import PromptSettings, build_prompt, prompt_sha256
from tests.tiny_models import build_causal_tokenizer, build_seq2seq_tokenizer

# kind -> (prompt fingerprint with a chat template, without one, prompts of 3 records under 3 settings, their scores)
PINNED = {
    "extractive": ('03fdb48205b7953c6fceadfafaf2c56a3dc18c5e1b3c061a5bcf6651e7a37e3c', '7c396c768accd11b5dda798a166d32a5fc97f04794f84e9192fdc8a764924d09', 'c9c2b6d0fb7f90b049561998a3b747ad67788cec8473607a01e075147e4c3214', 'd4a9b95116a373f47da4249ebae7f8642c9ac8f88b297870327d7e3b41a6c79e'),
    "open": ('94ec26d0794bb8983cd663f532943f597d79abcc1226089d8fea5856da91ee8b', '352ab47549824f0a7b5c098f136a3cf20f10c1f3b4ccbf41bf23eb83b5fa1b5c', 'a77a0dc669d4b35d2eeb4f4cae9f7bbab4ca4963cfcabf6d70b35e75429ea39f', 'd08f04df595d6d0d590178cbef5a0b06d4df1b30f61713af86213fc48be09705'),
    "choice": ('fb2941e6c31b41371ddd18b007d9270b17bf6882fa3dc159ca585d85f9f83a81', '2bf75a09a90e6988fba3dfc4720cb9df6c77308662e6aa0cb40c46b91a848c67', 'cdca2d53d81af599a24ad680a6e47be6cdf1f6940d088450f120ffa5bc0cbef1', 'b640931cc4a9cd77d60e80ba972ed2bebceb67b26ebc4a8d4794644895ab2c62'),
    "math": ('f1267d1476f10d0dc8180f28ca35dfbf50966838e5899c5aad19d3f973331948', '16df74ee7ae928a2d09048b092d2bbfed3ed7ab3788809ecea27844b47cdef4c', '76c88cd4012825e643485428725fae36a8d4463fa2d707e52f06561f177adfb3', '328ee3ad753aa2329101454b700f23b0c4eda7a398382555db175e9d6ffb8727'),
    "short": ('b8c3fcf9a9c8d2c812d63e64f27897f9a63f34309706c1bc404e04af6c90bed7', '99674cd1caad8059384dd250e31d5e198a028e9c21a17f9b024d4b19ae487690', 'a11735bd96fe89c359037a8a8595dfa6cedbf020029ea7303289cf4af623d3b2', '1733e4d25ed0fed28c9d861df467f2afe1ba8473546971bd8bed923bbf3c9e31'),
}

SETTINGS = (PromptSettings(), PromptSettings(choice_answer="text"), PromptSettings(unanswerable_hint=True))


@pytest.fixture(scope="module")
def tokenizers():
    return build_causal_tokenizer(), build_seq2seq_tokenizer()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def outputs(kind: str, chat, plain) -> tuple[str, str, str, str]:
    records = synthesize(kind, 3, seed=7)
    prompts = [build_prompt(r, tok, s) for tok in (chat, plain) for s in SETTINGS for r in records]
    rendered = "\x01".join(f"{p.text}\x00{p.target}\x00{p.n_tokens}" for p in prompts)
    scores = []
    for record in records:
        target = build_prompt(record, plain, SETTINGS[0]).target
        half = " ".join(target.split()[: max(1, len(target.split()) // 2)])
        for generated in (f" {target}\nmore", f" {half}", " Velmora 12"):
            answer = answer_from_generation(get_task(kind), generated)
            scores.append(item_scores(get_task(kind), record, answer))
    return (
        prompt_sha256(get_task(kind), chat, PromptSettings()),
        prompt_sha256(get_task(kind), plain, PromptSettings()),
        _digest(rendered),
        _digest(json.dumps(scores, sort_keys=True)),
    )


@pytest.mark.parametrize("kind", sorted(PINNED))
def test_a_built_in_kind_renders_and_scores_as_before(kind, tokenizers) -> None:
    assert outputs(kind, *tokenizers) == PINNED[kind]


def test_every_built_in_kind_is_pinned() -> None:
    assert set(PINNED) <= {k.value for k in TaskKind} and len(PINNED) == 5
