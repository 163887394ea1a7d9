"""`lorabench synth`: the same seed writes the same file, and the message says where."""

from __future__ import annotations

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_same_seed_same_file_and_the_path_is_printed(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (first, second):
        result = runner.invoke(app, ["synth", "--task", "open", "-n", "5", "--seed", "4", "--out", str(path)])
        assert result.exit_code == 0, result.output
        assert f"wrote 5 open records to {path}" in " ".join(result.output.split())
    assert first.read_bytes() == second.read_bytes() and len(first.read_text().splitlines()) == 5
    other = tmp_path / "c.jsonl"
    assert runner.invoke(app, ["synth", "--task", "open", "-n", "5", "--seed", "5", "--out", str(other)]).exit_code == 0
    assert other.read_bytes() != first.read_bytes()
