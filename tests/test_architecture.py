"""The layout's rules, as import-linter contracts (pyproject's [tool.importlinter]) plus the one it cannot say."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "lorabench"


def test_import_contracts_are_kept() -> None:
    # Prints the broken contracts, with the import chains that break them, when it fails.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_no_module_imports_the_package_itself() -> None:
    # `import lorabench` inside lorabench (for __version__, say) makes every layer depend on the top:
    # the version lives in lorabench.core.version.
    offending = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py") and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(alias.name == "lorabench" for alias in node.names):
                offending.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "lorabench" and node.level == 0:
                offending.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offending, offending
