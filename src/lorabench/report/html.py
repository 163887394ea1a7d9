"""The self-contained HTML report: one file, styles and images inline, every value escaped."""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from lorabench.report.view import ReportView


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _environment() -> Environment:
    # Autoescape is what keeps a question like "<script>..." from running in the reader's browser.
    return Environment(loader=PackageLoader("lorabench.report", "templates"), autoescape=select_autoescape(default=True))


def render_template(name: str, values: dict[str, Any]) -> str:
    return _environment().get_template(name).render(**values)


def render_html(view: ReportView) -> str:
    return render_template("report.html.j2", asdict(view))
