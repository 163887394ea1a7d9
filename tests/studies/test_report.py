"""The study page's Markdown: escaped for Markdown, not HTML."""

from __future__ import annotations

from lorabench.studies.report import render_study_markdown


def test_study_markdown_escapes_for_markdown_not_html():
    view = {
        "title": "lorabench study: 2 runs on extractive", "subtitle": "study folder /s", "pending": [], "total": 2,
        "primary": "exact_match", "n": 8,
        "cross": [{"label": "model: smollm2-135m-instruct -> gemma3-270m: better", "text": "A 0.0% -> B 50.0%", "css": "better"}],
        "run_header": ["run", "base", "verdict", "report"], "run_table": [{"cells": ["a|b", "1.0"], "verdict": "better"}],
        "strategy_header": [], "strategy_table": [], "strategy_note": "", "plots": [],
    }
    text = render_study_markdown(view)
    assert "smollm2-135m-instruct -> gemma3-270m" in text and "A 0.0% -> B 50.0%" in text
    assert "&gt;" not in text and "&lt;" not in text
    assert "| run | base | verdict |" in text and "| a\\|b | 1.0 | better |" in text
