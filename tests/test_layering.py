"""Each layer imports only the layers below it (see the layout in the README)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lorabench"

from lorabench.core.kinds import KINDS  # noqa: E402

_TASK_MODULES = tuple(f"lorabench.tasks.{module}" for module in KINDS.values())

# package (or module) -> lorabench modules it must never import, directly or inside a function
FORBIDDEN = {
    "report": ("lorabench.live", "lorabench.cli", "lorabench.pipeline.run", "lorabench.study", "lorabench.demo", "lorabench.training.train"),
    "config/settings.py": ("lorabench.models.load", "lorabench.training.train", "lorabench.evaluation.runner", "lorabench.pipeline.run"),
    "config/run.py": ("lorabench.models.load", "lorabench.training.train", "lorabench.evaluation.runner", "lorabench.pipeline.run"),
    "metrics": ("lorabench.evaluation", "lorabench.models.load", "lorabench.training.train", "lorabench.pipeline.run", "lorabench.report"),
    # Below the task modules: they may ask the registry (lorabench.core.kinds), never a kind's module.
    "data": _TASK_MODULES,
    "prompts/build.py": _TASK_MODULES,
    "prompts/template.py": _TASK_MODULES,
    "prompts/few_shot.py": _TASK_MODULES,
    "config/decoding.py": _TASK_MODULES,
    "core/kinds.py": ("lorabench.data", "lorabench.metrics", "lorabench.prompts.build", "lorabench.evaluation", "lorabench.models.load"),
    # `compare` reads lm-eval's files without lm-eval (or torch) installed.
    "comparison/lm_eval_files.py": ("lm_eval", "torch", "lorabench.models.load", "lorabench.evaluation", "lorabench.pipeline.run"),
    "comparison/lm_eval_compare.py": ("lm_eval", "torch", "lorabench.models.load", "lorabench.evaluation", "lorabench.pipeline.run"),
}


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
