"""Rendering without a model: Markdown escaping, what applies to a task, and the item table's layout."""

from __future__ import annotations

from pathlib import Path

from lorabench.data.records import TaskKind
from lorabench.report import browser
from lorabench.report.html import render_html
from lorabench.report.markdown import cell, render_markdown
from lorabench.report.view import ReportView, applicable_decoding, cost_columns, cost_note


def test_markdown_cells_escape_markup_but_keep_arrows_and_comparisons():
    assert cell("base 0.0% -> tuned 12.5%") == "base 0.0% -> tuned 12.5%"
    assert cell("a <- b, x < 3, y <= 4, z > 1, p => q") == "a <- b, x < 3, y <= 4, z > 1, p => q"
    assert cell("<script>alert('x')</script>") == "&lt;script&gt;alert('x')&lt;/script&gt;"
    assert cell("<img src=x onerror=alert(1)") == "&lt;img src=x onerror=alert(1)"  # unclosed tags too
    assert cell("<!-- hidden --> <https://example.com>") == "&lt;!-- hidden --&gt; &lt;https://example.com&gt;"
    assert cell("a | b") == "a \\| b"
    assert cell("`code` *bold* _em_ ~strike~") == "\\`code\\` \\*bold\\* \\_em\\_ \\~strike\\~"
    assert cell("exact_match still_wrong") == "exact_match still_wrong"  # intraword underscores are no emphasis
    assert cell("[click](http://x) ![img](y.png)") == "[click\\](http://x) ![img\\](y.png)"
    assert cell("95% CI [0.0, 29.9]") == "95% CI [0.0, 29.9]"
    assert cell("&lt; is not <") == "&amp;lt; is not <"  # data that looks like an entity stays as written
    assert cell("AT&T, C:\\dir, \\*") == "AT&T, C:\\dir, \\\\\\*"
    assert cell("two\nlines") == "two lines" and cell("") == " "


def test_decoding_and_cost_columns_show_what_the_evaluation_used():
    decoding = {"max_new_tokens": None, "batch_size": 8, "choice_mode": "logprob", "choice_normalization": "mean"}
    assert applicable_decoding(TaskKind.choice, decoding) == {"choice_mode": "logprob", "choice_normalization": "mean"}
    assert applicable_decoding(TaskKind.choice, {**decoding, "choice_mode": "letter"}) == {"choice_mode": "letter"}
    assert applicable_decoding(TaskKind.choice, {**decoding, "choice_mode": "generate"}) == {
        "max_new_tokens": "8 (default for choice)", "batch_size": 8, "choice_mode": "generate"}
    assert applicable_decoding(TaskKind.extractive, {**decoding, "max_new_tokens": 64}) == {"max_new_tokens": 64, "batch_size": 8}
    columns = ("n", "Q/Ctx", "PromptTok", "GenTok", "PromptTok_API", "Latency", "ParseFail")
    assert cost_columns(columns, generated_text=False) == ["n", "Q/Ctx", "PromptTok", "PromptTok_API", "Latency"]
    assert cost_columns(columns, generated_text=True) == list(columns)
    assert "GenTok" not in cost_note(cost_columns(columns, False)) and "GenTok:" in cost_note(list(columns))


def _item(index: int, question: str, gold: str, base: str, tuned: str) -> dict[str, str]:
    return {"id": f"synth-s5-ex-{index:05d}-q0", "question": question, "gold": gold, "base": base, "tuned": tuned,
            "base_score": "0.0", "tuned_score": "100.0", "base_category": "answered unanswerable", "tuned_category": ""}


def _view(rows: list[dict[str, str]]) -> ReportView:
    return ReportView(
        title="lorabench report: layout", subtitle="s", n=len(rows), alpha=0.05, power=80, primary="exact_match",
        verdicts=[], guards=[], metric_rows=[], category_rows=[], change_counts={"improved": len(rows)},
        item_groups=[{"key": "improved", "title": "Improved", "open": True, "total": len(rows), "shown": len(rows), "rows": rows},
                     {"key": "still_wrong", "title": "Still wrong", "open": False, "total": len(rows), "shown": len(rows), "rows": rows}],
        run_blocks=[],
    )


def test_item_tables_wrap_between_words(chromium, tmp_path: Path):
    names = "Essmirane Valulstead Thodunik Quinmoret Belcor Morzene Vikmora Osrin Velik Bremora"
    long_answer = " ".join([names] * 4)
    rows = [
        _item(0, "Where did Belcor Thodunik grow up, and who was his fiercest rival? " * 3, " | ".join(names.split()[:6]),
              long_answer, "Essmirane"),
        _item(1, "Which town?", "Essmirane | Valulstead | Quinmoret", "the town of Essmirane on the river Morzene", long_answer),
        # A token wider than its column has to break; that is not a word broken in the middle.
        _item(2, "A URL?", "x" * 120, "https://example.com/" + "a" * 150, "Essmirane"),
    ]
    page = tmp_path / "report.html"
    page.write_text(render_html(_view(rows)), encoding="utf-8")
    for width in (1280, 900, 600):
        check = browser.check_page(page, tmp_path / f"items-{width}.png", width=width, timeout_s=30, words_in="table.items td")
        assert check.split_words == [], (width, check.split_words)
        assert check.ok, check


def test_markdown_report_keeps_arrows_and_escapes_tags():
    rows = [_item(0, "What is <b>bold</b> -> here?", "x|y", "`a`", "*b*")]
    view = _view(rows)
    view.verdicts = [{"label": "exact_match: better", "css": "better", "text": "base 0.0% -> tuned 50.0%"}]
    text = render_markdown(view)
    assert "base 0.0% -> tuned 50.0%" in text and "-&gt;" not in text
    assert "What is &lt;b&gt;bold&lt;/b&gt; -> here?" in text and "x\\|y" in text and "\\`a\\`" in text and "\\*b\\*" in text
