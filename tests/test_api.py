"""`import lorabench` as a notebook user calls it: in a fresh process that imports nothing else,
on the tiny random-weight models (their numbers mean nothing; the types, files and errors do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lorabench.data.records import save_records
from lorabench.data.synth import synthesize


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_import_lorabench_loads_no_torch_until_a_function_needs_it():
    done = _python("""
        import sys
        import lorabench
        names = (lorabench.RunConfig, lorabench.RunSummary, lorabench.DecodingSettings, lorabench.TrainSettings,
                 lorabench.PromptSettings, lorabench.DataSpec, lorabench.SweepSettings, lorabench.run, lorabench.study)
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'peft'))
        print(heavy, sorted(set(lorabench.__all__) - set(dir(lorabench))))
        """)
    assert done.stdout.strip() == "[] []"


def test_no_public_function_shadows_a_subpackage():
    # `import lorabench.studies.grid` works and leaves lorabench.study the function.
    done = _python("""
        import pkgutil
        import lorabench
        import lorabench.studies.grid
        modules = {m.name for m in pkgutil.iter_modules(lorabench.__path__)}
        functions = {name for name in lorabench.__all__ if getattr(getattr(lorabench, name), "__module__", "") == "lorabench.api"}
        print(callable(lorabench.study), sorted(modules & functions))
        """)
    assert done.stdout.strip() == "True []"


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 30, seed=7), tmp_path_factory.mktemp("data") / "qa.jsonl")


USER_SCRIPT = """
    import json, sys
    from pathlib import Path
    import lorabench

    model, data, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    config = {
        "model": model, "task": "extractive",
        "data": {"source": data, "split": {"test": 8, "validation": 4, "seed": 0}},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "training": {"epochs": 1, "batch_size": 4, "lr": 5e-3, "val_metric_items": 2, "logging_steps": 1},
        "decoding": {"max_new_tokens": 4, "batch_size": 4},
        "metrics": {"bootstrap_resamples": 200},
        "out": str(work / "run"),
    }
    messages, stages = [], []
    def progress(name, total, done, seconds=None):
        stages.append(name)
        return lambda k: None
    result = lorabench.run(config, say=messages.append, progress=progress)
    assert isinstance(result, lorabench.RunResult) and isinstance(result.summary, lorabench.RunSummary)
    assert json.loads((result.out / "summary.json").read_text()) == result.summary.to_json_dict()
    assert lorabench.RunResult.from_folder(result.out).summary == result.summary
    em = result.verdict("exact_match")
    html = result._repr_html_()
    assert "<table>" in html and "exact_match" in html and "adapter_applied" in html
    assert stages == ["eval base", "eval tuned"] and any(m.startswith("data: train") for m in messages)

    # the same config as a RunConfig and as a YAML path: every stage reused
    again = lorabench.run(lorabench.RunConfig.model_validate(config), say=messages.append)
    assert again.summary.comparison == result.summary.comparison
    (work / "run.yaml").write_text(result.out.joinpath("config.yaml").read_text())
    assert lorabench.run(work / "run.yaml", say=messages.append).summary.comparison == result.summary.comparison

    evaluated = lorabench.evaluate(model, data, "extractive", out=work / "eval", limit=6,
                                   decoding={"max_new_tokens": 4, "batch_size": 2})
    assert isinstance(evaluated, lorabench.EvalResult) and evaluated.metrics.n == 6 and evaluated.resumed == 0
    assert "exact_match" in evaluated.metrics.values and "<table>" in evaluated._repr_html_()

    compared = lorabench.compare(result.out / "base", result.out / "tuned")
    n = result.summary.sizes.test
    assert isinstance(compared, lorabench.Comparison) and compared.n == n == em.n
    assert [c.model_dump() for c in compared.comparisons][0]["metric"] == "exact_match"
    assert compared.comparisons[0].p_value == em.p_value and sum(compared.items.values()) == n
    assert compared.warnings == []  # the same engine and library versions made both
    holm = [c.model_dump() for c in lorabench.compare(result.out / "base", result.out / "tuned", correction="holm").comparisons]
    assert holm[0]["role"] == "primary" and holm[0]["p_adjusted"] is None
    assert all(c["role"] == "secondary" and c["p_adjusted"] >= c["p_value"] for c in holm[1:])

    predictions = work / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"gold": g, "prediction": p}) + "\\n"
                                   for g, p in (("Paris", "Paris"), ("1889", "in 1889"), ("red", "blue"))))
    scored = lorabench.score(predictions, "extractive")
    assert isinstance(scored, lorabench.ScoreResult) and scored.metrics.n == 3
    assert round(scored.metrics.values["exact_match"], 4) == 0.3333 and scored.metrics_path is None

    trained = lorabench.train({**config, "out": str(work / "train_only")}, on_log=lambda row: None)
    assert isinstance(trained, lorabench.TrainResult) and trained.steps > 0
    assert (trained.adapter_dir / "adapter_model.safetensors").is_file()

    errors = []
    for call in (lambda: lorabench.evaluate(model, data, "extractive", out=work / "bad", decoding={"batch_size": 0}),
                 lambda: lorabench.run({**config, "training": {"lr": -1}}),
                 lambda: lorabench.evaluate(model, data, "extractive", out=work / "bad", limit=2,
                                            prompt={"few_shot": {"k": 1}})):
        try:
            call()
        except lorabench.LorabenchError as error:
            errors.append(str(error))
    print(json.dumps({"errors": errors, "em": em.model_dump(), "bad_written": (work / "bad").exists()}))
"""


def test_a_notebook_user_runs_evaluates_compares_scores_and_trains(tiny_causal_path, qa_file, tmp_path):
    done = _python(USER_SCRIPT, str(tiny_causal_path), str(qa_file), str(tmp_path))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    batch, lr, few_shot = report["errors"]
    # library errors name the settings key or keyword argument, never a command-line flag
    assert batch.startswith("decoding.batch_size: Input should be greater than 0")
    assert "training.lr" in lr
    assert few_shot.startswith("prompt.few_shot: evaluation needs its examples: give few_shot_from=FILE")
    assert not any("--" in message for message in report["errors"]) and not report["bad_written"]
    assert report["em"]["test"] == "mcnemar_exact" and report["em"]["metric"] == "exact_match"


STUDY_SCRIPT = """
    import json, sys
    import lorabench

    model, data, out = sys.argv[1:4]
    config = {
        "model": model, "task": "extractive",
        "data": {"source": data, "split": {"test": 6, "validation": 2, "seed": 0}},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "training": {"max_steps": 2, "batch_size": 4, "val_metric_items": 0},
        "decoding": {"max_new_tokens": 2, "batch_size": 4},
        "metrics": {"bootstrap_resamples": 200},
        "sweep": {"train_sizes": [4, 8]},
        "out": out,
    }
    result = lorabench.study(config, say=lambda m: None)
    assert isinstance(result, lorabench.StudyResult) and result.page is not None and result.page.is_file()
    runs = result.results()
    assert "<table>" in result._repr_html_()
    print(json.dumps({"states": [r.state for r in result.runs], "finished": result.finished,
                      "sizes": sorted(r.summary.sizes.train for r in runs.values())}))
"""


def test_a_notebook_user_runs_a_study(tiny_causal_path, qa_file, tmp_path):
    done = _python(STUDY_SCRIPT, str(tiny_causal_path), str(qa_file), str(tmp_path / "study"))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"states": ["ran", "ran"], "finished": 2, "sizes": [4, 8]}
