"""Load a report page in headless Chromium and say whether it renders cleanly.

The HTML report must be self-contained: it is mailed around and opened offline, so any request
that leaves file:/data: URLs is counted as a failure even when it happens to succeed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lorabench.core.errors import LorabenchError

CHROMIUM_ENV = "LORABENCH_CHROMIUM"
INSTALL_HINT = (
    "install it with `apt-get install chromium` (Debian/Ubuntu) and `pip install playwright`, "
    f"or point {CHROMIUM_ENV} at a Chromium binary; do not run `playwright install`, "
    "lorabench drives the system browser"
)

# Root has no user namespace sandbox, there is no GPU, and on a closed network QUIC probes and
# background fetches (updates, sync, field trials) only add noise and stray requests.
# --disable-dev-shm-usage: Debian's launcher means to add it when /dev/shm is small, but its
# check breaks when /dev/shm shows up twice in the mount table, and containers often give 64 MB.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

_LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")

# After `load` every <img> in the document has settled, so incomplete or zero-width means broken.
_IMAGES_JS = """() => {
  const imgs = Array.from(document.images);
  return {
    total: imgs.length,
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.currentSrc || i.src),
  };
}"""

# Runs of letters and digits that the layout broke across lines: the "Essmira|ne" a reader
# stumbles over (lines may break at spaces, hyphens or slashes, never inside such a run). Only a
# token (text between spaces) too long to be a word, `long` characters or more as in a URL or a
# hash, and wider than its element may break anywhere. Closed <details> are opened first so that
# every row is laid out.
_SPLIT_WORDS_JS = """([selector, long]) => {
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  const rectsOf = (node, start, end) => {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    return Array.from(range.getClientRects()).filter(r => r.width > 0);
  };
  const found = [];
  for (const element of document.querySelectorAll(selector)) {
    const style = getComputedStyle(element);
    const width = element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const token of node.data.matchAll(/\\S+/g)) {
        const end = token.index + token[0].length;
        const tokenWidth = rectsOf(node, token.index, end).reduce((sum, r) => sum + r.width, 0);
        if (token[0].length >= long && tokenWidth > width + 0.5) continue;
        for (const word of token[0].matchAll(/[\\p{L}\\p{N}]+/gu)) {
          const start = token.index + word.index;
          const tops = rectsOf(node, start, start + word[0].length).map(r => r.top).sort((a, b) => a - b);
          if (tops.filter((top, i) => i === 0 || top - tops[i - 1] > 2).length > 1) found.push(word[0]);
        }
      }
    }
  }
  return found;
}"""


@dataclass
class PageCheck:
    """What went wrong while loading one page; `ok` when nothing did."""

    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    images_total: int = 0
    images_broken: int = 0
    broken_image_srcs: list[str] = field(default_factory=list)
    split_words: list[str] = field(default_factory=list)  # see `words_in` of check_page

    @property
    def ok(self) -> bool:
        return not (self.console_errors or self.failed_requests or self.images_broken or self.split_words)


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None.

    An explicit LORABENCH_CHROMIUM wins and is not second-guessed: if it names nothing runnable the
    answer is None, so a typo is reported instead of silently testing with another browser.
    """
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return shutil.which(override)
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def check_page(
    html: Path,
    screenshot: Path | None = None,
    width: int = 1280,
    *,
    timeout_s: float = 30.0,
    words_in: str | None = None,
    long_token: int = 24,
) -> PageCheck:
    """Open `html` in headless Chromium, collect errors, optionally save a full-page PNG.

    With `words_in` (a CSS selector, e.g. "table.items td"), also list the words those elements
    break in the middle; only tokens of `long_token` characters or more that are wider than their
    element may break.
    """
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise LorabenchError(f"checking the HTML report needs the `playwright` package: {INSTALL_HINT}") from exc
    chromium = find_chromium()
    if chromium is None:
        override = os.environ.get(CHROMIUM_ENV)
        where = f"{CHROMIUM_ENV}={override!r} is not runnable" if override else "no chromium found"
        raise LorabenchError(f"checking the HTML report needs Chromium ({where}): {INSTALL_HINT}")
    html = Path(html)
    if not html.is_file():
        raise LorabenchError(f"{html}: no such report file")

    result = PageCheck()
    blocked: set[str] = set()
    timeout_ms = timeout_s * 1000

    def block_external(route, request) -> None:  # noqa: ANN001 - playwright types are optional
        blocked.add(request.url)
        result.failed_requests.append(f"{request.url} (external request; the report must be self-contained)")
        route.abort("blockedbyclient")

    def on_failed(request) -> None:  # noqa: ANN001
        if request.url not in blocked:  # already reported, with the better reason
            result.failed_requests.append(f"{request.url} ({request.failure or 'failed'})")

    def on_console(message) -> None:  # noqa: ANN001
        if message.type == "error":
            result.console_errors.append(message.text)

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=timeout_ms
            )
        except PlaywrightError as exc:
            raise LorabenchError(f"could not start Chromium at {chromium}: {exc}") from exc
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.set_default_timeout(timeout_ms)
            page.on("console", on_console)
            page.on("pageerror", lambda exc: result.console_errors.append(f"uncaught: {exc}"))
            page.on("requestfailed", on_failed)
            page.on("websocket", lambda ws: result.failed_requests.append(f"{ws.url} (websocket)"))
            page.route(lambda url: not url.startswith(_LOCAL_SCHEMES), block_external)
            try:
                page.goto(html.resolve().as_uri(), wait_until="load")
            except PlaywrightTimeout:
                result.failed_requests.append(f"{html}: page did not finish loading in {timeout_s:g}s")
            result.title = page.title()
            images = page.evaluate(_IMAGES_JS)
            result.images_total = int(images["total"])
            result.broken_image_srcs = [str(src) for src in images["broken"]]
            result.images_broken = len(result.broken_image_srcs)
            if words_in is not None:
                result.split_words = [str(word) for word in page.evaluate(_SPLIT_WORDS_JS, [words_in, long_token])]
            if screenshot is not None:
                screenshot = Path(screenshot)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return result
