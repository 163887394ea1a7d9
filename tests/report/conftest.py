"""Browser fixture for report tests: skip without Chromium, except on CI where a skip would hide a broken install."""

from __future__ import annotations

import os

import pytest

from lorabench.report import browser


def require_chromium() -> None:
    """Skip when chromium or playwright is missing, except on CI, where a skip would hide a broken install."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the `playwright` package (pip install playwright)")
    if browser.find_chromium() is None:
        missing.append("chromium (apt-get install chromium)")
    if not missing:
        return
    reason = "browser check needs " + " and ".join(missing)
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{reason}; CI must install it (.ci/run does)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def chromium() -> None:
    require_chromium()
