"""Trackio, for real: its local store in a temp folder (TRACKIO_DIR), read back with its own API.

Trackio reads TRACKIO_DIR once, when it is imported, so sending and reading run in fresh processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trackio")
from tests.tracking.trackio_store import python_in, read_project  # noqa: E402


def _send(folder: Path, store: Path) -> dict[str, Any]:
    out = python_in(store, f"""
        import json
        from pathlib import Path
        from lorabench.config.tracking import TrackingSettings
        from lorabench.tracking.send import send_run
        [outcome] = send_run(Path({str(folder)!r}), TrackingSettings(backends=["trackio"], project="lorabench-tests"),
                             say=lambda _: None)
        print(json.dumps({{"state": outcome.state, "run_id": outcome.run_id, "error": outcome.error}}))
    """)
    return json.loads(out.strip().splitlines()[-1])


def _read_back(store: Path) -> dict[str, Any]:
    return read_project(store, "lorabench-tests")


def test_a_run_arrives_in_the_local_store_with_config_curves_results_and_tables(run_folder: Path, tmp_path: Path) -> None:
    store = tmp_path / "trackio"
    outcome = _send(run_folder, store)
    assert outcome["state"] == "sent", outcome["error"]
    found = _read_back(store)
    assert found["runs"] == ["demo-run"] == [outcome["run_id"]]
    config = found["config"]
    assert config["lora.r"] == "2" and config["versions.torch"] and config["verdict.exact_match"]
    logs = found["logs"]["demo-run"]
    train_log = [json.loads(line) for line in (run_folder / "train" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in logs if "train/loss" in row] == [row["step"] for row in train_log if "loss" in row]
    summary = json.loads((run_folder / "summary.json").read_text())
    [results] = [row for row in logs if "base.exact_match" in row]
    assert results["base.exact_match"] == summary["base"]["exact_match"]
    assert results["compare.exact_match.p_value"] == summary["comparison"][0]["p_value"]
    items = results["items"]["_value"]
    assert len(items) == summary["sizes"]["test"] and {"id", "question", "gold", "base_answer", "tuned_answer"} <= set(items[0])

    assert _send(run_folder, store)["state"] == "already sent"
    assert _read_back(store)["runs"] == ["demo-run"]
