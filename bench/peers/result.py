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


def show(result: CaseResult, ceiling: Ceiling, console: Console) -> None:
    """One table per case, then its notes."""
    table = Table(title=f"{result.case}: {result.peer} vs lorabench", title_justify="left")
    columns = ("items", "peer s", "lorabench s", "ratio", "agreement", "peer GFLOP/s", "lorabench GFLOP/s",
               "% of ceiling", "target")
    for column in columns:
        table.add_column(column, justify="left" if column in ("items", "agreement", "target") else "right")
    peer, ours = result.gflops(result.peer_seconds), result.gflops(result.lorabench_seconds)
    table.add_row(
        result.items, f"{result.peer_seconds:.1f}", f"{result.lorabench_seconds:.1f}", f"{result.ratio:.2f}x",
        result.agreement, f"{peer:.1f}", f"{ours:.1f}", f"{100 * ours / ceiling.best:.0f}%",
        result.target_verdict(ceiling),
    )
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
