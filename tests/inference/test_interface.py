"""The backend seam: the runner needs only the interface, and the hf backend is today's HF code."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from tests.inference.fake import FakeBackend
from lorabench.inference import get_backend
from lorabench.inference.base import GenerationRequest, LetterRequest, OptionRequest, option_continuations
from lorabench.inference.hf import HFBackend
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.inference import choice, continuous
from lorabench.inference.generate import GenerationSettings, generate
from lorabench.evaluation.runner import evaluate_records
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.answers import STOP_STRINGS
from lorabench.prompts.build import PromptSettings, build_prompt
from lorabench.runs.folder import RunFolder
from lorabench.prompts.grouping import context_groups

EXTRACTIVE = synthesize("extractive", 6, seed=3)
CHOICE = synthesize("choice", 4, seed=3)
DECODING = DecodingSettings(max_new_tokens=5, batch_size=4)


@pytest.fixture(scope="module")
def tokenizer(tiny_causal_path):
    return AutoTokenizer.from_pretrained(tiny_causal_path)


def _evaluate(backend, records, decoding=DECODING, prompt=None, run=None, progress=None):
    return evaluate_records(backend, records, prompt or PromptSettings(), decoding, ScoreSettings(), run, progress)


def _timeless(rows):
    return [{k: v for k, v in row.items() if k not in ("latency_s", "latency_per_question_s")} for row in rows]


# --- the runner through a fake backend -------------------------------------------------------------


def test_runner_writes_rows_and_metrics_from_the_backends_answers(tokenizer):
    right = {r.id: r.answers[0] for r in EXTRACTIVE[:3]}
    fake = FakeBackend(tokenizer, texts={**right, EXTRACTIVE[3].id: "no idea\nQuestion: more"})
    outcome = _evaluate(fake, EXTRACTIVE)

    assert [r["id"] for r in outcome.rows] == [r.id for r in EXTRACTIVE]
    assert [r["prediction"] for r in outcome.rows[:4]] == [*right.values(), "no idea"]  # cut at the stop string
    assert outcome.rows[3]["raw"] == "no idea\nQuestion: more"
    assert [r["scores"]["exact_match"] for r in outcome.rows] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert outcome.metrics.n == 6 and outcome.metrics.metrics["exact_match"].value == pytest.approx(0.5)
    requests = fake.generation_requests
    assert sorted(r.record_id for r in requests) == sorted(r.id for r in EXTRACTIVE)
    assert {(r.max_new_tokens, r.stop_strings) for r in requests} == {(5, STOP_STRINGS[EXTRACTIVE[0].task])}
    prompts = {r.id: build_prompt(r, tokenizer, PromptSettings()) for r in EXTRACTIVE}
    assert all(r.prompt == prompts[r.record_id] for r in requests)
    assert all(row["prompt_tokens"] == prompts[row["id"]].n_tokens for row in outcome.rows)


def test_runner_resumes_asking_the_backend_only_for_missing_items(tokenizer, tmp_path):
    first = _evaluate(FakeBackend(tokenizer, texts={r.id: "first" for r in EXTRACTIVE}), EXTRACTIVE)
    run = RunFolder.open(tmp_path / "run", {"test": 1})
    run.append_predictions(first.rows[:2])

    later = FakeBackend(tokenizer, texts={r.id: "later" for r in EXTRACTIVE})
    counted: list[int] = []
    outcome = _evaluate(later, EXTRACTIVE, run=RunFolder.open(tmp_path / "run", {"test": 1}), progress=counted.append)
    assert outcome.resumed == 2 and sum(counted) == 4
    assert sorted(r.record_id for r in later.generation_requests) == sorted(r.id for r in EXTRACTIVE[2:])
    assert [r["prediction"] for r in outcome.rows] == ["first"] * 2 + ["later"] * 4
    assert RunFolder(tmp_path / "run").completed() == {r["id"]: r for r in outcome.rows}


def test_runner_scores_choices_through_the_backend(tokenizer):
    options = {CHOICE[0].id: [-3.0, -1.0, -2.0, -4.0], CHOICE[1].id: [-1.0, -2.0, -2.0, -2.0]}
    fake = FakeBackend(tokenizer, options=options)
    outcome = _evaluate(fake, CHOICE, DecodingSettings(choice_normalization="sum"))
    assert [r["prediction"] for r in outcome.rows] == ["B", "A", "A", "A"]
    assert outcome.rows[0]["option_logprob"] == dict(zip("ABCD", options[CHOICE[0].id]))
    request = fake.option_requests[0]
    assert request.labels == tuple(CHOICE[0].labels)
    assert list(request.continuations) == option_continuations(CHOICE[0], request.prompt)

    letters = FakeBackend(tokenizer, letters={CHOICE[0].id: {"A": -2.0, "B": -3.0, "C": -0.5, "D": -9.0}})
    outcome = _evaluate(letters, CHOICE, DecodingSettings(choice_mode="letter"))
    assert [r["prediction"] for r in outcome.rows] == ["C", "A", "A", "A"]
    assert [r.record_id for r in letters.letter_requests] == [r.id for r in CHOICE]
    assert not letters.option_requests and not letters.generation_requests


def test_group_strategies_send_one_request_per_context_with_its_budget(tokenizer):
    grouped = synthesize("extractive", 9, seed=2, short_passages=True)  # contexts of 4, 3 and 2 questions
    fake = FakeBackend(tokenizer)
    outcome = _evaluate(fake, grouped, DecodingSettings(max_new_tokens=4), PromptSettings(strategy="batch"))
    assert len(outcome.rows) == 9
    groups = context_groups(grouped)
    assert [(r.record_id, r.max_new_tokens) for r in fake.generation_requests] == [(g[0].id, 4 * len(g)) for g in groups]

    small = FakeBackend(tokenizer, window=fake.generation_requests[0].prompt.n_tokens + 5)
    _evaluate(small, grouped[:4], DecodingSettings(max_new_tokens=4), PromptSettings(strategy="batch"))
    assert small.generation_requests[0].max_new_tokens == 5  # what the window leaves, not 4 x 4


# --- the hf backend is today's direct path -----------------------------------------------------------


def _sharpen(model: torch.nn.Module) -> None:
    """Large random weights, so the tiny model writes prompt-dependent text instead of one repeated token."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)


@pytest.fixture(scope="module", params=["causal", "seq2seq"])
def loaded(request, tiny_causal_path, tiny_seq2seq_path):
    path = tiny_causal_path if request.param == "causal" else tiny_seq2seq_path
    model = load_model(ModelSpec(name=str(path), device="cpu", dtype="float32"))
    _sharpen(model.model)
    return model


def test_get_backend_names_the_hf_backend_and_refuses_unknown_ones(loaded):
    backend = get_backend("hf", loaded)
    assert isinstance(backend, HFBackend) and backend.tokenizer is loaded.tokenizer
    assert backend.is_seq2seq == loaded.is_seq2seq
    with pytest.raises(LorabenchError, match="unknown backend 'tpu'; use one of hf, vllm"):
        get_backend("tpu", loaded)


def _direct(loaded, prompts, settings):
    """The engine the hf backend runs: continuous batching where it is supported (the tiny causal
    model), padded batches otherwise (the seq2seq one)."""
    if not loaded.is_seq2seq and continuous.supported(loaded.model):
        return continuous.generate(loaded.model, loaded.tokenizer, prompts, settings)
    return generate(loaded.model, loaded.tokenizer, prompts, settings, loaded.is_seq2seq)


def test_hf_generation_equals_the_direct_generate_call(loaded):
    prompts = [build_prompt(r, loaded.tokenizer, PromptSettings()) for r in EXTRACTIVE]
    stops = STOP_STRINGS[EXTRACTIVE[0].task]
    settings = GenerationSettings(max_new_tokens=6, batch_size=4, stop_strings=stops)
    direct = list(_direct(loaded, prompts, settings))
    counted: list[int] = []
    requests = [GenerationRequest(p, 6, stops) for p in prompts]
    through = list(HFBackend(loaded).generate(requests, batch_size=4, progress=counted.append))
    assert [g.__dict__ | {"latency_s": 0} for g in through] == [g.__dict__ | {"latency_s": 0} for g in direct]
    # Padded batches report each batch; continuous batching each forward that finished items.
    assert counted == [4, 2] if loaded.is_seq2seq else sum(counted) == len(prompts)
    assert len({g.text for g in direct}) > 1  # the sharpened model writes different things


def test_hf_generation_runs_one_pass_per_budget_in_first_seen_order(loaded):
    prompts = [build_prompt(r, loaded.tokenizer, PromptSettings()) for r in EXTRACTIVE[:4]]
    requests = [GenerationRequest(p, budget) for p, budget in zip(prompts, [3, 5, 3, 5])]
    through = list(HFBackend(loaded).generate(requests, batch_size=8))
    expected = []
    for budget, part in ((3, prompts[0::2]), (5, prompts[1::2])):
        expected += _direct(loaded, part, GenerationSettings(budget, 8))
    assert [(g.record_id, g.text, g.generated_tokens) for g in through] == [
        (g.record_id, g.text, g.generated_tokens) for g in expected
    ]


def test_runner_rows_are_the_same_given_a_loaded_model_or_its_hf_backend(loaded):
    assert _timeless(_evaluate(loaded, EXTRACTIVE).rows) == _timeless(_evaluate(HFBackend(loaded), EXTRACTIVE).rows)


def test_option_and_letter_scores_through_the_interface_equal_the_choice_module(loaded):
    backend = HFBackend(loaded)
    prompts = [build_prompt(r, loaded.tokenizer, PromptSettings()) for r in CHOICE]
    requests = [
        OptionRequest(p, tuple(option_continuations(r, p)), tuple(r.labels)) for r, p in zip(CHOICE, prompts)
    ]
    direct = [
        choice.score_options(
            loaded.model, loaded.tokenizer, p, option_continuations(r, p), r.labels, loaded.is_seq2seq
        )
        for r, p in zip(CHOICE, prompts)
    ]
    assert backend.score_options(requests) == direct

    letters = backend.score_letters([LetterRequest(p, tuple(r.labels)) for r, p in zip(CHOICE, prompts)])
    direct_letters = [
        choice.score_letters(loaded.model, loaded.tokenizer, p, r.labels, loaded.is_seq2seq)
        for r, p in zip(CHOICE, prompts)
    ]
    assert [s.logprobs for s in letters] == direct_letters
    assert [s.record_id for s in letters] == [r.id for r in CHOICE]


# --- the backend setting ---------------------------------------------------------------------------


def test_the_default_backend_is_left_out_of_saved_settings():
    assert "backend" not in DecodingSettings().model_dump(mode="json")
    saved = DecodingSettings(backend="vllm").model_dump(mode="json")
    assert saved["backend"] == "vllm" and DecodingSettings(**saved).backend == "vllm"
    assert DecodingSettings(**DecodingSettings().model_dump(mode="json")).backend == "hf"
