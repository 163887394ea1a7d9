"""One writer per folder: a run, eval, train or study folder is held by one process at a time.

Two `lorabench run`s on one `out` used to train into the same folder, and the first reported results
of an adapter the second had replaced. A process now takes an exclusive `flock` on the folder's
LOCK_FILE before it writes anything there; a second process is refused in one line naming the
holder's pid and start time. The kernel drops the lock when its holder exits in any way (kill -9
included), so a crashed run never leaves a stale lock behind: the next run simply resumes.

The lock is per process and reentrant: a study that holds a cell's folder runs that cell's pipeline,
which takes the same folder again, in the same process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from lorabench.core.errors import LorabenchError

LOCK_FILE = ".lorabench.lock"


class FolderBusyError(LorabenchError):
    """Another process holds the folder. `field` is the option or config key that named it."""

    def __init__(self, folder: Path, holder: dict, field: str = "out") -> None:
        self.folder = folder
        self.holder = holder
        self.field = field
        super().__init__(f"{field}: {folder} is in use by another lorabench process ({describe_holder(holder)}); "
                         "wait for it to finish, or choose another folder")


def describe_holder(holder: dict) -> str:
    """'pid 4242, started 2026-12-06 11:02:03 UTC', from what the holder wrote."""
    if not holder.get("pid"):
        return "pid unknown: it has only just started"
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {holder['pid']}, started {when}"


# Folders this process holds (resolved path -> the lock's file descriptor): holding one of them
# again, as a study's cell holds the folder its pipeline then holds, is a no-op.
_HELD: dict[Path, int] = {}


def read_holder(folder: Path) -> dict | None:
    """Which other process holds `folder` now ({pid, started}), or None when none does."""
    if Path(folder).resolve() in _HELD:
        return None
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_of(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_folder(folder: Path, field: str = "out", enabled: bool = True) -> Iterator[None]:
    """Hold `folder` (created if missing) for the block. Refused with FolderBusyError when another
    process holds it. Folders this call created that hold nothing but the lock when the block ends
    (a run refused by a check) are removed again, so a refusal leaves nothing behind. `enabled=False`
    (the processes other than rank 0 of a launch, whose rank 0 holds it) holds nothing."""
    key = Path(folder).resolve()
    if not enabled or key in _HELD:
        yield
        return
    made = _missing_folders(key)
    key.mkdir(parents=True, exist_ok=True)
    try:
        fd = _acquire(key, Path(folder), field)
    except BaseException:
        _remove_empty(made)
        raise
    _HELD[key] = fd
    try:
        yield
    finally:
        del _HELD[key]
        _release(key, fd, made)


def _acquire(key: Path, shown: Path, field: str) -> int:
    path = key / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of(fd)
            os.close(fd)
            raise FolderBusyError(shown, holder, field) from None
        # The holder before us may have removed the file (see _release) after we opened it: a lock
        # on a file no longer at `path` guards nothing, so open the path again.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    # pid and start time only: a command line can carry a secret (--set some.api_key=...).
    os.write(fd, json.dumps({"pid": os.getpid(), "started": _process_start()}).encode("utf-8"))
    return fd


def _release(key: Path, fd: int, made: list[Path]) -> None:
    # Removed while still held, so no other process can take a lock on a file about to vanish
    # without seeing (in _acquire) that it vanished.
    if made and [child.name for child in key.iterdir()] == [LOCK_FILE]:
        (key / LOCK_FILE).unlink()
        _remove_empty(made)
    os.close(fd)


def _missing_folders(key: Path) -> list[Path]:
    """`key` and those of its ancestors that do not exist yet, deepest first."""
    return [folder for folder in (key, *key.parents) if not folder.exists()]


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; stops at the first one something else was put in
        try:
            folder.rmdir()
        except OSError:
            return


def _holder_of(fd: int) -> dict:
    """What the holder wrote into the lock file; {} while it is between locking and writing."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8")
        found = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _process_start() -> float:
    """When this process started (epoch seconds), not when it took the lock: the holder a user sees
    in `ps` and the one named in the refusal are told apart by pid and start time together."""
    try:
        ticks = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return round(boot + ticks / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, ValueError, IndexError, StopIteration):
        return round(time.time(), 1)
