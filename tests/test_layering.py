"""Each layer imports only the layers below it (see the layout in the README)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lorabench"

from lorabench.tasks.registry import KINDS  # noqa: E402

_TASK_MODULES = tuple(f"lorabench.tasks.{module}" for module in KINDS.values())

# package (or module) -> lorabench modules it must never import, directly or inside a function
FORBIDDEN = {
    "report": ("lorabench.cli", "lorabench.pipeline", "lorabench.study", "lorabench.demo", "lorabench.train"),
    "settings.py": ("lorabench.models", "lorabench.train", "lorabench.evaluate.runner", "lorabench.pipeline"),
    "config.py": ("lorabench.models", "lorabench.train", "lorabench.evaluate.runner", "lorabench.pipeline"),
    "metrics": ("lorabench.evaluate", "lorabench.models", "lorabench.train", "lorabench.pipeline", "lorabench.report"),
    # Below the task modules: they may ask the registry (lorabench.tasks.registry), never a kind's module.
    "data": _TASK_MODULES,
    "prompts.py": _TASK_MODULES,
    "prompt_template.py": _TASK_MODULES,
    "few_shot.py": _TASK_MODULES,
    "evaluate/settings.py": _TASK_MODULES,
    "tasks/registry.py": ("lorabench.data", "lorabench.metrics", "lorabench.prompts", "lorabench.evaluate", "lorabench.models"),
    # `compare` reads lm-eval's files without lm-eval (or torch) installed.
    "lm_eval_files.py": ("lm_eval", "torch", "lorabench.models", "lorabench.evaluate", "lorabench.pipeline"),
    "lm_eval_compare.py": ("lm_eval", "torch", "lorabench.models", "lorabench.evaluate", "lorabench.pipeline"),
    # The result types read finished run folders in a notebook without loading a model.
    "results.py": ("torch", "transformers", "lorabench.models", "lorabench.train", "lorabench.evaluate",
                   "lorabench.pipeline", "lorabench.report", "lorabench.cli"),
    "notices.py": ("lorabench.cli", "torch"),
    "api.py": ("lorabench.cli",),
}


def test_only_the_command_line_renders_for_a_terminal() -> None:
    """The library says plain text (lorabench.notices) and returns results; Rich and typer are the CLI's."""
    offending = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).parts[0] not in ("cli", "__main__.py")  # python -m lorabench runs the CLI
        for name in _imports(path)
        if name.split(".")[0] in ("rich", "typer") or name == "lorabench.cli" or name.startswith("lorabench.cli.")
    ]
    assert not offending, offending


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    target = SRC / layer
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    offending = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in files
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert not offending, offending
