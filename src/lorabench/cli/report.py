"""`lorabench report`: the report files, rewritten from a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import console
from lorabench.core.errors import LorabenchError


def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished `lorabench run` folder.")],
    screenshot: Annotated[bool, typer.Option(help="Also load the page in headless Chromium and save report.png.")] = False,
) -> None:
    """(Re)write report.html, report.md, plots/ and tables/ from a run folder's files."""
    import lorabench.api as api

    files = api.report(run_dir, screenshot=screenshot)
    console.print(f"report: {files.html.resolve()}")
    console.print(f"markdown: {files.markdown.resolve()}")
    if files.screenshot is not None:
        console.print(f"screenshot: {files.screenshot.resolve()}")
    if files.problem is not None:
        raise LorabenchError(f"the report did not render cleanly: {files.problem}")
