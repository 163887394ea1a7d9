"""A case's measurements, the table it prints as, and the environment line above the tables."""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.flops import Ceiling

PACKAGES = ("lorabench", "torch", "transformers", "peft", "lm_eval", "trl")


@dataclass(frozen=True)
class Target:
    """What the issue asks of a case: a speed ratio and, for some, a share of the ceiling or of
    identical results."""

    ratio: float
    ceiling_share: float | None = None
    identical: float | None = None


@dataclass(frozen=True)
class Outputs:
    """What each tool produced, to compare a bfloat16 run with the float32 run of the same tool:
    choices (option index per item), answers (text per item) or the mean training loss."""

    kind: str  # "choices" | "answers" | "loss"
    peer: list[Any]
    lorabench: list[Any]


@dataclass
class CaseResult:
    case: str
    items: str  # what was run, in words ("200 x 4 options")
    peer: str  # the peer's name and the call that was timed
    peer_seconds: float
    lorabench_seconds: float
    agreement: str
    required_flops: float  # the work the results need (bench.flops), the same for both
    target: Target
    identical: float | None = None  # share of identical answers or choices, where the case has them
    notes: list[str] = field(default_factory=list)
    dtype: str = "float32"  # the precision both tools ran in
    outputs: Outputs | None = None

    @property
    def ratio(self) -> float:
        return self.peer_seconds / self.lorabench_seconds

    def gflops(self, seconds: float) -> float:
        return self.required_flops / seconds / 1e9

    def target_verdict(self, ceiling: Ceiling) -> str:
        """'met', or by how much each part of the target was missed."""
        misses = []
        if self.ratio < self.target.ratio:
            misses.append(f"ratio {self.target.ratio - self.ratio:.2f}x short of {self.target.ratio}x")
        share = self.gflops(self.lorabench_seconds) / ceiling.best
        if self.target.ceiling_share is not None and share < self.target.ceiling_share:
            misses.append(f"{100 * (self.target.ceiling_share - share):.0f} points short of {self.target.ceiling_share:.0%} of ceiling")
        wanted = self.target.identical
        if wanted is not None and self.identical is not None and self.identical < wanted:
            misses.append(f"{self.identical:.0%} identical, {wanted:.0%} wanted")
        return "met" if not misses else "; ".join(misses)

    def to_dict(self, ceiling: Ceiling) -> dict[str, Any]:
        return {
            **asdict(self), "ratio": self.ratio, "target_verdict": self.target_verdict(ceiling),
            "peer_gflops": self.gflops(self.peer_seconds), "lorabench_gflops": self.gflops(self.lorabench_seconds),
        }


def against_float32(result: CaseResult, reference: CaseResult | None) -> str:
    """How each tool's results in `result.dtype` agree with its own float32 results (`reference`)."""
    if reference is None or result.outputs is None or reference.outputs is None:
        return "no float32 run of this case in this invocation to compare with"
    peer = result.peer.split(" ")[0]
    if result.outputs.kind == "loss":
        (peer_now,), (peer_then,) = result.outputs.peer, reference.outputs.peer
        (ours_now,), (ours_then,) = result.outputs.lorabench, reference.outputs.lorabench
        return (f"mean train loss minus float32's: {peer} {peer_now - peer_then:+.4f}, "
                f"lorabench {ours_now - ours_then:+.4f}")
    n = len(result.outputs.peer)
    same_peer = sum(a == b for a, b in zip(result.outputs.peer, reference.outputs.peer, strict=True))
    same_ours = sum(a == b for a, b in zip(result.outputs.lorabench, reference.outputs.lorabench, strict=True))
    return f"identical {result.outputs.kind} to float32: {peer} {same_peer}/{n}, lorabench {same_ours}/{n}"


def show(result: CaseResult, ceiling: Ceiling, console: Console, reference: CaseResult | None = None) -> None:
    """One table per case and precision, then its notes; a run in another precision than float32
    also says how each tool's results moved from its float32 ones (`reference`)."""
    title = f"{result.case} in {result.dtype}: {result.peer} vs lorabench"
    table = Table(title=title, title_justify="left")
    columns = ["items", "peer s", "lorabench s", "ratio", "agreement", "peer GFLOP/s", "lorabench GFLOP/s",
               f"% of {result.dtype} ceiling", "target"]
    if result.dtype != "float32":
        columns.insert(5, "vs float32 (same tool)")
    for column in columns:
        table.add_column(column, justify="left" if column in ("items", "agreement", "target", "vs float32 (same tool)") else "right")
    peer, ours = result.gflops(result.peer_seconds), result.gflops(result.lorabench_seconds)
    cells = [
        result.items, f"{result.peer_seconds:.1f}", f"{result.lorabench_seconds:.1f}", f"{result.ratio:.2f}x",
        result.agreement, f"{peer:.1f}", f"{ours:.1f}", f"{100 * ours / ceiling.best:.0f}%",
        result.target_verdict(ceiling),
    ]
    if result.dtype != "float32":
        cells.insert(5, against_float32(result, reference))
    table.add_row(*cells)
    console.print(table)
    for note in result.notes:
        console.print(f"  {note}", soft_wrap=True)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(threads: int) -> dict[str, str]:
    """Date, machine and the versions that decide the numbers."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "threads": str(threads),
        **versions,
    }
