"""The adapter's README.md: a model card the Hugging Face Hub understands, written from files only.

`lorabench train` writes it from the adapter's lorabench.json (how the adapter was made);
`lorabench run` rewrites it after the tuned evaluation with the run's results from summary.json:
base vs tuned with 95% intervals and the paired tests' verdicts. Everything from data or config
goes through the Markdown escaping of report.md, so a pipe or a tag in a system prompt cannot
break a table or reach a reader's browser as HTML. The card never shows the local path a base was
loaded from (a base named by a path in the user's home is shown from `~`), nor any setting of the
environment.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import jinja2
import yaml
from huggingface_hub import EvalResult, ModelCardData

from lorabench.core.version import __version__
from lorabench.models.adapter_folder import CARD_FILE, read_adapter_meta
from lorabench.report.collect import comparison_from_dict
from lorabench.report.markdown import cell, table
from lorabench.report.verdicts import verdict_sentence
from lorabench.report.view import metric_row, settings_rows
from lorabench.runs.folder import write_atomic

_RESULT_COLUMNS = ("metric", "base", "tuned", "change", "test", "p", "verdict")
_BASE_FIELDS = ("name", "kind", "revision", "gguf_file", "sha256", "dtype", "load_in_4bit", "is_seq2seq")

TEMPLATE = """\
---
{{ card_data }}
---

# LoRA adapter for {{ base | md }} ({{ task }})

{% if results %}
Trained with lorabench {{ version }} and evaluated against its base model on {{ results.n }} held-out test items \
(the same items, prompts and decoding for both). Values in %, with 95% intervals; paired tests at alpha {{ results.alpha }}.

## Results

{{ results.table }}

{% for line in results.lines %}
- {{ line | md }}
{% endfor %}
{% else %}
Trained with lorabench {{ version }}; not evaluated yet. `lorabench run` evaluates the base model and this adapter \
on the same held-out items and adds the results to this card.
{% endif %}

## Base model

{{ base_table }}

## Data

{{ data_table }}

## LoRA

{{ lora_table }}

## Training

{{ training_table }}

## Prompt

Evaluate and serve with these prompt settings: the adapter learned to answer prompts built this way.

{{ prompt_table }}

## Use it

{% if loadable %}
```python
from peft import PeftModel
from transformers import {{ auto_class }}, AutoTokenizer

base = {{ auto_class }}.from_pretrained({{ base_literal }}{% if revision %}, revision={{ revision }}{% endif %})
model = PeftModel.from_pretrained(base, "path/to/this/adapter")
tokenizer = AutoTokenizer.from_pretrained("path/to/this/adapter")  # the tokenizer it was trained with
```
{% if local %}

The base is a local folder: give its path on your machine.
{% endif %}
{% else %}
The base is a GGUF model, which transformers reads only after converting it: use the adapter through lorabench, \
or merge it into plain weights that transformers loads directly.
{% endif %}

```sh
lorabench eval --model {{ base_shell }} --adapter path/to/this/adapter --data DATA --task {{ task }}
lorabench merge path/to/this/adapter --out merged  # base + adapter in one model, checked answer for answer
```
"""

_ENVIRONMENT = jinja2.Environment(
    autoescape=False,  # Markdown, escaped value by value with `md`
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_ENVIRONMENT.filters["md"] = cell


def write_model_card(adapter_dir: Path, run_dir: Path | None = None) -> Path:
    """(Re)write `adapter_dir/README.md`; with `run_dir` (a finished run folder), with its results."""
    meta = read_adapter_meta(Path(adapter_dir))
    results = None
    if run_dir is not None and (Path(run_dir) / "summary.json").is_file():
        summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
        results = run_results(summary, _alpha(Path(run_dir)))
    return write_atomic(Path(adapter_dir) / CARD_FILE, card_text(meta, results))


def card_text(meta: dict[str, Any], results: dict[str, Any] | None = None) -> str:
    """The card for an adapter's lorabench.json, with `run_results` when the run evaluated it."""
    base = meta["base_model"]
    kind, name = base.get("kind"), shareable(str(base["name"]))
    card_data = ModelCardData(
        base_model=name if kind == "hub" else None,  # the Hub links only hub ids
        library_name="peft",
        pipeline_tag="text2text-generation" if base.get("is_seq2seq") else "text-generation",
        tags=["lorabench", "lora", str(meta["task"])],
    )
    if results is not None and results.get("eval_results"):  # the Hub's model-index needs a model name
        card_data.model_name = f"{name.rsplit('/', 1)[-1]}-lora-{meta['task']}"
        card_data.eval_results = results["eval_results"]
    sizes = meta.get("data") or {}
    data = {"task": meta["task"], "training items": sizes.get("train_items"), "validation items": sizes.get("val_items")}
    if results is not None:
        data["test items"] = results["n"]
    prompt = {**meta["prompt"], "max_prompt_tokens_used": meta.get("max_prompt_tokens_used"),
              "chat_template_used": (meta.get("chat_template") or {}).get("used")}
    few_shot = prompt.get("few_shot")
    if isinstance(few_shot, dict) and few_shot.get("examples"):  # their ids; the texts are in lorabench.json
        prompt["few_shot"] = {**few_shot, "examples": [example.get("id") for example in few_shot["examples"]]}
    return _ENVIRONMENT.from_string(TEMPLATE).render(
        card_data=card_data.to_yaml(),
        base=name,
        task=meta["task"],
        version=meta.get("lorabench", __version__),
        results=results,
        base_table=_settings_table({**{k: base.get(k) for k in _BASE_FIELDS}, "name": name}),
        data_table=_settings_table(data),
        lora_table=_settings_table(meta["lora"]),
        training_table=_settings_table(meta.get("training")),
        prompt_table=_settings_table(prompt),
        loadable=kind in ("hub", "folder"),
        local=kind == "folder",
        auto_class="AutoModelForSeq2SeqLM" if base.get("is_seq2seq") else "AutoModelForCausalLM",
        base_literal=json.dumps(name),
        revision=json.dumps(base["revision"]) if base.get("revision") else None,
        base_shell=shlex.quote(name.replace("\n", " ")),
    )


def run_results(summary: dict[str, Any], alpha: float) -> dict[str, Any]:
    """What the card shows of a finished run: the metrics table, a verdict line per metric and any
    guard that failed."""
    comparisons = [comparison_from_dict(c) for c in summary["comparison"]]
    rows = [metric_row(c, _interval(summary["base"], c.metric), _interval(summary["tuned"], c.metric)) for c in comparisons]
    lines = [verdict_sentence(c) for c in comparisons]
    lines += [f"WARNING {g['name']}: {g['message']}" for g in summary.get("guards") or [] if not g.get("ok", True)]
    n = (summary.get("sizes") or {}).get("test") or (comparisons[0].n if comparisons else 0)
    return {
        "n": n,
        "alpha": alpha,
        "table": "\n".join(table(_RESULT_COLUMNS, [[row[c] for c in _RESULT_COLUMNS] for row in rows])),
        "lines": lines,
        "eval_results": eval_results(summary, n),
    }


def eval_results(summary: dict[str, Any], n: int) -> list[EvalResult]:
    """The card's `model-index`: each compared metric of the base model and of the tuned one, in %,
    on the run's test items. The dataset is the data file's name (a Hugging Face dataset's id when
    the items came from the Hub) pinned by the fingerprint of the exact items (`test_data`, written
    by runs since model-index; older summaries name the held-out split only)."""
    data = summary.get("test_data") or {}
    dataset = str(data.get("name") or "held-out test split")
    common = {
        "task_type": "text-generation",
        "task_name": f"{summary.get('task', '?')} (lorabench)",
        "dataset_type": dataset,
        "dataset_name": f"{dataset}, {n} test items",
        "dataset_split": "test",
        "dataset_revision": data.get("sha256"),
    }
    found = []
    for comparison in summary["comparison"]:
        metric = comparison["metric"]
        for model, block in (("base model", summary["base"]), ("tuned", summary["tuned"])):
            value = block.get(metric)
            if isinstance(value, (int, float)):
                found.append(EvalResult(**common, metric_type=metric, metric_name=f"{metric} ({model})",
                                        metric_value=round(100 * value, 2)))
    return found


def shareable(name: str) -> str:
    """A base named by an absolute path in the user's home is shown from `~`; other names as given."""
    path = Path(name)
    home = Path.home()
    if path.is_absolute() and (path == home or home in path.parents):
        return "~/" + path.relative_to(home).as_posix()
    return name


def _interval(block: dict[str, Any], metric: str) -> tuple[float | None, float | None, float | None]:
    low, high = (block.get("ci95") or {}).get(metric, [None, None])
    return block.get(metric), low, high


def _alpha(run_dir: Path) -> float:
    config_path = run_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else None
    return float(((config or {}).get("metrics") or {}).get("alpha", 0.05))


def _settings_table(payload: Any) -> str:
    return "\n".join(table(["setting", "value"], settings_rows(payload)))
