"""One writer per folder, with real processes: a second one is refused and writes nothing, the first
finishes intact, and kill -9 of the holder frees the folder for the next run to resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.runs.lock import LOCK_FILE, FolderBusyError, hold_folder, read_holder
from tests.run_configs import tiny_run

ROOT = Path(__file__).resolve().parents[2]


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that holds `folder` until it is killed."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from lorabench.runs.lock import hold_folder
        with hold_folder(Path({str(folder)!r})):
            print("held", flush=True)
            time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def _wait_for(check, what: str, process: subprocess.Popen | None = None, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {seconds} s")
        time.sleep(0.05)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_a_held_folder_is_refused_naming_the_holder_and_freed_by_kill_9(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        assert read_holder(folder)["pid"] == holder.pid
        with pytest.raises(FolderBusyError) as refused, hold_folder(folder):
            raise AssertionError("the folder was held twice")
        message = str(refused.value)
        assert message.startswith(f"out: {folder} is in use by another lorabench process (pid {holder.pid}, started 20")
        assert " UTC)" in message and "\n" not in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert read_holder(folder) is None  # the kernel dropped the lock with its holder
    with hold_folder(folder):
        assert read_holder(folder) is None  # only other processes see a holder; this one is us
    assert (folder / LOCK_FILE).exists()


def test_held_again_in_the_same_process_it_is_one_hold(tmp_path: Path) -> None:
    with hold_folder(tmp_path / "study"), hold_folder(tmp_path / "study"):
        pass


def test_a_refused_start_leaves_no_folder_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), hold_folder(tmp_path / "a" / "b" / "run"):
        raise RuntimeError("a check refused the run before its first write")
    assert list(tmp_path.iterdir()) == []


# ---- two `lorabench run`s on one folder ------------------------------------------------------------


def _config(tiny_causal_path: Path, tmp_path: Path, **training) -> tuple[Path, Path]:
    data = save_records(synthesize("extractive", 24, seed=3), tmp_path / "qa.jsonl")
    out = tmp_path / "run"
    config = tiny_run(tiny_causal_path, data, out, test=6, validation=2,
                      training={"val_metric_items": 0, **training})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, out


def _lorabench(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-m", "lorabench", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=ROOT)


def test_a_second_run_on_a_running_folder_is_refused_and_the_first_finishes_intact(tiny_causal_path, tmp_path) -> None:
    config, out = _config(tiny_causal_path, tmp_path)
    first = _lorabench("run", str(config))
    try:
        # The first run holds the folder from its start; stopped there, it cannot finish before the
        # second one tries, whatever the machine's load.
        _wait_for(lambda: (read_holder(out) or {}).get("pid") == first.pid, "lock taken", first)
        first.send_signal(signal.SIGSTOP)
        before = _snapshot(out)
        second = _lorabench("run", str(config), "--set", "lora.r=8", "--set", "training.lr=5e-4")
        output, _ = second.communicate(timeout=300)
        assert second.returncode == 2, output
        lines = [line for line in output.splitlines() if line.strip()]
        assert len(lines) == 1 and f"is in use by another lorabench process (pid {first.pid}, started" in lines[0], output
        assert _snapshot(out) == before  # nothing written
    finally:
        first.send_signal(signal.SIGCONT)
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output
    assert yaml.safe_load((out / "config.yaml").read_text())["lora"]["r"] == 2
    adapter = yaml.safe_load((out / "train" / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 2
    assert (out / "summary.json").is_file() and read_holder(out) is None


def test_kill_9_of_a_run_frees_its_folder_and_the_next_run_resumes(tiny_causal_path, tmp_path) -> None:
    config, out = _config(tiny_causal_path, tmp_path, epochs=3)
    first = _lorabench("run", str(config))
    _wait_for(lambda: (out / "train" / "pending.json").exists(), "training started", first)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert not (out / "summary.json").exists()
    base = (out / "base" / "predictions.jsonl").read_text()
    again = _lorabench("run", str(config))
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    assert (out / "summary.json").is_file()
    # The base evaluation made before the kill is kept, not redone (its rows hold their timings).
    assert (out / "base" / "predictions.jsonl").read_text() == base
