"""lorabench.api's leakage and preview_prompts return lorabench.results types, with the library's
content, and the commands print those results (merge: tests/cli/test_same_as_api.py; compare_lm_eval:
tests/comparison/test_lm_eval_compare.py)."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

import lorabench.api as api
from lorabench.cli import app
from lorabench.config.run import RunConfig
from lorabench.data.leakage import check_leakage
from lorabench.data.loaders import load_records
from lorabench.data.records import save_records
from lorabench.data.spec import DataSpec
from lorabench.data.synth import synthesize
from lorabench.pipeline.preview import preview_prompts
from lorabench.prompts.few_shot import shot_ids
from lorabench.results import ItemView, LeakageKind, LeakageResult, Preview
from lorabench.tasks.choice import ChoiceRecord

runner = CliRunner()


def test_leakage_is_a_typed_result_holding_the_reports_findings(tmp_path):
    records = synthesize("math", 20, seed=1)
    a = save_records(records, tmp_path / "a.jsonl")
    b = save_records(records[:5] + synthesize("math", 5, seed=2), tmp_path / "b.jsonl")
    result = api.leakage(a, b, "math")
    report = check_leakage(*(load_records(DataSpec(path=str(p), task="math")).records for p in (a, b)))
    assert isinstance(result, LeakageResult) and result.has_leakage and report.has_leakage
    assert isinstance(result.kinds["same_question"], LeakageKind)
    assert result.kinds["same_question"].count == report.count("same_question") >= 5
    assert [e.b_id for e in result.kinds["same_question"].examples] == [e.b_id for e in report.examples("same_question")]
    assert result.to_dict() == report.to_dict() and result.summary == report.summary()
    assert (result.size_a, result.size_b, result.ngram) == (20, 10, 8)

    printed = runner.invoke(app, ["leakage", str(a), str(b), "--task", "math", "--json"])
    assert printed.exit_code == 1 and json.loads(printed.output) == result.to_dict()
    shown = runner.invoke(app, ["leakage", str(a), str(b), "--task", "math"])
    assert shown.exit_code == 1 and shown.output.split() == result.summary.split()  # the console wraps long lines


def test_preview_prompts_is_a_typed_preview_with_the_few_shot_ids(tiny_causal_path, tmp_path):
    records = [ChoiceRecord(id=f"c{i}", question=f"Which colour is number {i}?", options=[f"red {i}", f"blue {i}"],
                            answer="AB"[i % 2]) for i in range(10)]
    data = save_records(records, tmp_path / "choice.jsonl")
    config = {"model": str(tiny_causal_path), "task": "choice", "prompt": {"few_shot": {"k": 1}},
              "data": {"source": str(data), "split": {"test": 4, "validation": 0}}, "out": str(tmp_path / "never")}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    preview = api.preview_prompts(path, "test", 2, say=lambda message: None)
    rendered = preview_prompts(RunConfig.model_validate(config), "test", 2, lambda message: None)
    assert isinstance(preview, Preview) and all(isinstance(item, ItemView) for item in preview.items)
    assert preview.items == rendered.items and len(preview.items) == 2
    assert (preview.split, preview.total, preview.chat) == ("test", rendered.total, rendered.chat) and preview.total == 4
    assert preview.settings == rendered.settings.model_dump(mode="json")
    assert preview.max_prompt_tokens == rendered.settings.max_prompt_tokens
    assert preview.few_shot is not None and rendered.settings.few_shot is not None
    assert preview.few_shot.ids == shot_ids(rendered.settings.few_shot) and preview.few_shot.ids
    assert (preview.few_shot.k, preview.few_shot.seed) == (1, rendered.settings.few_shot.seed)
    assert not (tmp_path / "never").exists()

    printed = runner.invoke(app, ["prompts", str(path), "--split", "test", "--n", "2"], env={"COLUMNS": "400"})
    assert printed.exit_code == 0, printed.output
    assert f"the last stands in for a shot in its own prompt): {', '.join(preview.few_shot.ids)}" in printed.output
    assert f"prompts fit in {preview.max_prompt_tokens} tokens" in printed.output
    assert all(f"test item {n}: {item.record_id}" in printed.output for n, item in enumerate(preview.items, start=1))
