"""report.md: the same content as the HTML report, for a terminal, a notebook or a pull request."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lorabench.report.view import ReportView

# What would turn data into markup in a Markdown line or GFM table cell. Raw HTML needs a `<`
# followed by a letter, `/`, `!` or `?` (a tag, comment, declaration or autolink), so `->`, `<=`
# and `a < b` stay as they are, while `<script>` becomes `&lt;script&gt;`: renderers pass raw HTML
# through, and data must never run in a reader's browser.
_TAG = re.compile(r"<([A-Za-z/!?][^<>]*)>")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # "&lt;" in data shows as "&lt;", not as "<"
_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")  # before punctuation a backslash would escape it
_EMPHASIS = re.compile(r"[*~`]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # an intraword _ is no emphasis
_LINK = re.compile(r"\](?=\()")


def cell(value: object) -> str:
    """Text for one Markdown line or table cell: whitespace collapsed, pipes escaped, and whatever
    would become emphasis, code, a link or raw HTML escaped the Markdown way."""
    text = _BACKSLASH.sub(r"\\\\", str(value))
    text = _ENTITY.sub("&amp;", text)
    text = _TAG.sub(r"&lt;\1&gt;", text)
    text = _TAG_START.sub("&lt;", text)
    text = _EMPHASIS.sub(lambda m: "\\" + m.group(0), text)
    text = _LINK.sub(r"\\]", text).replace("|", "\\|")
    return " ".join(text.split()) or " "


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _metric_table(rows: Sequence[dict[str, str]]) -> list[str]:
    return table(["metric", "base", "tuned", "change", "test", "p", "verdict", "detectable change"],
                 [[m["metric"], m["base"], m["tuned"], m["change"], m["test"], m["p"], m["verdict"], m["detectable"]]
                  for m in rows])


def _verdict_lines(verdicts: Sequence[dict[str, str]]) -> list[str]:
    return [f"- **{cell(v['label'])}**: {cell(v['text'])}" for v in verdicts]


def _judge_lines(judge: dict[str, Any]) -> list[str]:
    out = ["", f"## {cell(judge['title'])}", "", ("" if judge["trusted"] else "**") + cell(judge["trust"])
           + ("" if judge["trusted"] else "**"), ""]
    out += table(["metric (%)", "gold", "base", "tuned", "change", "p", "verdict"],
                 [[m["metric"], m["gold"], m["base"], m["tuned"], m["change"], m["p"], m["verdict"]] for m in judge["rows"]])
    out += [""] + [f"- {cell(v)}" for v in judge["verdicts"]]
    if judge["preference"]:
        out.append(f"- {cell(judge['preference'])}")
    out += [""] + [f"- {'ok' if g['ok'] else '**WARNING**'} {cell(g['name'])}: {cell(g['message'])}" for g in judge["guards"]]
    out += ["", f"{cell(judge['cost'])}. Rubrics: {cell(judge['rubrics'])}.", "", f"### Judged items ({judge['items_total']})", ""]
    if len(judge["item_rows"]) < judge["items_total"]:
        out += [f"Showing {len(judge['item_rows'])} of {judge['items_total']}; every judgment is in judge/judgments.jsonl.", ""]
    out += table(["id", "question", "gold", "base answer", "judge on base", "tuned answer", "judge on tuned", "preference"],
                 [[i["id"], i["question"], i["gold"], i["base"], i["base_grade"], i["tuned"], i["tuned_grade"], i["preference"]]
                  for i in judge["item_rows"]])
    return out


def render_markdown(view: ReportView) -> str:
    out = [f"# {cell(view.title)}", "", cell(view.subtitle), "",
           f"## Did the fine-tune help? ({view.n} held-out items, paired tests at alpha {view.alpha})", ""]
    out += _verdict_lines(view.verdicts)
    if view.multiplicity:
        out += ["", cell(view.multiplicity)]
    if view.judge is not None:
        out += _judge_lines(view.judge)
    if view.retention is not None:
        out += ["", f"## {cell(view.retention['title'])}", "", cell(view.retention["intro"]), ""]
        out += _verdict_lines(view.retention["verdicts"])
        out += [f"- note: {cell(note)}" for note in view.retention["notes"]]
    out += ["", "## Guards", ""]
    out += [f"- {'ok' if g['ok'] else '**WARNING**'} {cell(g['name'])}: {cell(g['message'])}" for g in view.guards]
    out += ["", "## Metrics (%, 95% intervals)", ""]
    out += _metric_table(view.metric_rows)
    if view.short is not None:
        out += ["", f"### {cell(view.short['title'])}", ""]
        out += _metric_table(view.short["rows"]) if view.short["rows"] else [cell(view.short["note"])]
    out += ["", f"Detectable change: the smallest true change this test set would show with {view.power}% power.", ""]
    out += ["## Cost per question", ""] + table(view.cost_header, view.cost_rows) + ["", cell(view.cost_note), ""]
    if view.plots:
        out += ["## Plots", ""] + [f"![{cell(p['caption'])}]({p['file']})" for p in view.plots] + [""]
    out += [f"_{cell(m)}_" for m in view.missing_plots]
    out += ["", "## Wrong answers by category", ""]
    out += table(["category", "meaning", "base", "tuned"], [[c["name"], c["meaning"], c["base"], c["tuned"]] for c in view.category_rows])
    out += ["", f"## Items ({view.primary} decides right or wrong)", ""]
    out += [", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in view.change_counts.items()), ""]
    for group in view.item_groups:
        if group["key"] == "still_right" or not group["total"]:
            continue
        out += [f"### {cell(group['title'])} ({group['total']})", ""]
        if group["shown"] < group["total"]:
            out += [f"Showing {group['shown']} of {group['total']}; all items are in tables/items.csv.", ""]
        out += table(["id", "question", "gold", "base answer", "tuned answer", "base", "tuned"],
                     [[r["id"], r["question"], r["gold"], r["base"], r["tuned"],
                       f"{r['base_score']} {r['base_category']}".strip(), f"{r['tuned_score']} {r['tuned_category']}".strip()]
                      for r in group["rows"]])
        out.append("")
    out += ["## Run", ""]
    for block in view.run_blocks:
        out += [f"### {cell(block['title'])}", ""] + table(["setting", "value"], block["rows"]) + [""]
    return "\n".join(out) + "\n"
