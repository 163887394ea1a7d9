"""report.md: the same content as the HTML report, for a terminal, a notebook or a pull request."""

from __future__ import annotations

import html
from collections.abc import Sequence

from lorabench.report.view import ReportView


def cell(value: object) -> str:
    """A table cell: one line, pipes escaped, HTML special characters as entities (Markdown
    renderers pass raw HTML through, so data must not become markup here either)."""
    text = html.escape(str(value), quote=False).replace("|", "\\|")
    return " ".join(text.split()) or " "


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(view: ReportView) -> str:
    out = [f"# {cell(view.title)}", "", cell(view.subtitle), "",
           f"## Did the fine-tune help? ({view.n} held-out items, paired tests at alpha {view.alpha})", ""]
    out += [f"- **{cell(v['label'])}**: {cell(v['text'])}" for v in view.verdicts]
    out += ["", "## Guards", ""]
    out += [f"- {'ok' if g['ok'] else '**WARNING**'} {cell(g['name'])}: {cell(g['message'])}" for g in view.guards]
    out += ["", "## Metrics (%, 95% intervals)", ""]
    out += table(["metric", "base", "tuned", "change", "test", "p", "verdict", "detectable change"],
                 [[m["metric"], m["base"], m["tuned"], m["change"], m["test"], m["p"], m["verdict"], m["detectable"]]
                  for m in view.metric_rows])
    out += ["", f"Detectable change: the smallest true change this test set would show with {view.power}% power.", ""]
    out += ["## Cost per question", ""] + table(view.cost_header, view.cost_rows) + [""]
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
