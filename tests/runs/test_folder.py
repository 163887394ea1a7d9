import json

import pytest
import yaml

from lorabench.core.errors import LorabenchError
from lorabench.runs.folder import RunFolder, write_json


def test_open_creates_folder_and_config(tmp_path):
    run = RunFolder.open(tmp_path / "r", {"model": {"name": "m"}, "n": 3})
    assert yaml.safe_load(run.config_path.read_text()) == {"model": {"name": "m"}, "n": 3}
    assert run.completed() == {}
    assert not run.is_complete()


def test_resume_keeps_rows_and_refuses_other_settings(tmp_path):
    config = {"model": {"name": "m", "dtype": "float32"}}
    run = RunFolder.open(tmp_path / "r", config)
    run.append_predictions([{"id": "a", "prediction": "x"}, {"id": "b", "prediction": "y"}])
    again = RunFolder.open(tmp_path / "r", config)
    assert set(again.completed()) == {"a", "b"}
    with pytest.raises(LorabenchError, match=r"model\.dtype: 'float32' -> 'bfloat16'.*force=True"):
        RunFolder.open(tmp_path / "r", {"model": {"name": "m", "dtype": "bfloat16"}})
    forced = RunFolder.open(tmp_path / "r", {"model": {"name": "m", "dtype": "bfloat16"}}, force=True)
    assert forced.completed() == {}


def test_line_cut_by_a_crash_is_dropped_and_redone(tmp_path):
    run = RunFolder.open(tmp_path / "r", {})
    run.append_predictions([{"id": "a"}])
    with run.predictions_path.open("a") as handle:
        handle.write('{"id": "b", "predic')  # the process died mid-write
    assert set(run.completed()) == {"a"}
    run.append_predictions([{"id": "b"}])
    assert set(run.completed()) == {"a", "b"}


def test_corrupt_line_in_the_middle_is_an_error(tmp_path):
    run = RunFolder.open(tmp_path / "r", {})
    run.predictions_path.write_text('{"id": "a"}\nnot json\n{"id": "c"}\n')
    with pytest.raises(LorabenchError, match="predictions.jsonl:2: corrupt line"):
        run.completed()


def test_foreign_folder_is_not_taken_over(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(LorabenchError, match="not a lorabench run folder"):
        RunFolder.open(tmp_path / "mine", {})


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    write_json(tmp_path / "m.json", {"a": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
