"""The headless-Chromium page checker that the HTML report test relies on."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from lorabench.report import browser
from tests.report.conftest import require_chromium

# Each page is tiny and local: anything slower than this is a hang, not a slow machine.
TIMEOUT_S = 15.0


def _png_data_uri() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1, 2], [0, 1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _page(tmp_path: Path, body: str, title: str = "t") -> Path:
    path = tmp_path / "page.html"
    path.write_text(f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>")
    return path


def test_self_contained_page_with_inline_image_is_ok(chromium: None, tmp_path: Path) -> None:
    html = _page(tmp_path, f'<h1>Report</h1><img alt="plot" src="{_png_data_uri()}">', title="lorabench report")
    shot = tmp_path / "run" / "report.png"
    check = browser.check_page(html, screenshot=shot, timeout_s=TIMEOUT_S)
    assert check.ok, check
    assert check.title == "lorabench report"
    assert (check.images_total, check.images_broken) == (1, 0)
    assert check.console_errors == [] and check.failed_requests == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_error_is_reported(chromium: None, tmp_path: Path) -> None:
    check = browser.check_page(_page(tmp_path, '<script>console.error("boom")</script>'), timeout_s=TIMEOUT_S)
    assert not check.ok
    assert check.console_errors == ["boom"]


def test_uncaught_exception_is_reported(chromium: None, tmp_path: Path) -> None:
    check = browser.check_page(_page(tmp_path, '<script>throw new Error("kaput")</script>'), timeout_s=TIMEOUT_S)
    assert not check.ok
    assert any("kaput" in e for e in check.console_errors), check.console_errors


def test_broken_image_is_reported(chromium: None, tmp_path: Path) -> None:
    check = browser.check_page(_page(tmp_path, '<img src="missing.png">'), timeout_s=TIMEOUT_S)
    assert not check.ok
    assert (check.images_total, check.images_broken) == (1, 1)
    assert any("missing.png" in r for r in check.failed_requests), check.failed_requests


def test_external_request_is_a_failure(chromium: None, tmp_path: Path) -> None:
    html = _page(tmp_path, '<script src="http://example.invalid/x.js"></script>')
    check = browser.check_page(html, timeout_s=TIMEOUT_S)
    assert not check.ok
    assert any("example.invalid" in r and "external" in r for r in check.failed_requests), check.failed_requests


def test_missing_chromium_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(tmp_path / "no-such-chromium"))
    assert browser.find_chromium() is None
    with pytest.raises(browser.LorabenchError, match="apt-get install chromium"):
        browser.check_page(_page(tmp_path, "hi"))


def test_require_chromium_fails_instead_of_skipping_on_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(tmp_path / "no-such-chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install"):
        require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium()


def test_words_broken_in_the_middle_are_reported(chromium: None, tmp_path: Path) -> None:
    body = ('<div class="w" style="width:120px;word-break:break-all">Belcor Morzene Vikmora Bremora Quinmoret</div>'
            '<div class="w" style="width:120px;overflow-wrap:break-word">Essmirane Valulstead</div>'
            f'<div class="w" style="width:120px;overflow-wrap:break-word">{"x" * 40} https://example.com/some/long/path</div>')
    check = browser.check_page(_page(tmp_path, body), timeout_s=TIMEOUT_S, words_in="div.w")
    # break-all splits the names; break-word keeps them whole and breaks only the long tokens
    assert check.split_words and set(check.split_words) <= {"Belcor", "Morzene", "Vikmora", "Bremora", "Quinmoret"}, check.split_words
    assert not check.ok
    assert browser.check_page(_page(tmp_path, body), timeout_s=TIMEOUT_S).split_words == []  # only when asked
