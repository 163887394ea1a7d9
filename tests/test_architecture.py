"""The layout's rules, as import-linter contracts (pyproject's [tool.importlinter]) plus the one it cannot say."""

from __future__ import annotations

import ast
import re
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


def kind_mentions(source: str, kinds: list[str]) -> list[str]:
    """Where `source` names one of `kinds` as code: a TaskKind member, a kind's record class, or the
    kind's name as a string compared with, passed as or keyed by a task."""
    names = "|".join(map(re.escape, kinds))
    classes = "|".join(f"{kind.capitalize()}Record" for kind in kinds)
    patterns = [
        rf"\bTaskKind\.({names})\b",
        rf"\b({classes})\b",
        rf"(==|!=|\bis\b|\bin\b|\btask\s*=|[\"']task[\"']\s*:)\s*[\"']({names})[\"']",
        rf"\b(TaskKind|get_task|write_synth|synthesize|record_type)\(\s*[\"']({names})[\"']",
    ]
    found = []
    for number, line in enumerate(source.splitlines(), 1):
        code = line.split("#", 1)[0]
        if any(re.search(pattern, code) for pattern in patterns):
            found.append(f"{number}: {line.strip()}")
    return found


def test_no_module_outside_the_tasks_names_a_kind() -> None:
    # Generic code asks a kind's Task (its hooks), never which kind it is: a new kind is one module.
    from lorabench.core.kinds import KINDS

    offending = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where.startswith("tasks/"):
            continue
        offending += [f"{where}:{hit}" for hit in kind_mentions(path.read_text(encoding="utf-8"), list(KINDS))]
    assert not offending, "\n".join(offending)


def test_the_kind_check_sees_each_way_of_naming_a_kind() -> None:
    kinds = ["choice", "math"]
    for line in ('if task is TaskKind.choice:', 'isinstance(record, ChoiceRecord)', 'if task == "math":',
                 'write_synth("choice", 4)', 'DataSpec(path=p, task="math")', '{"task": "choice"}'):
        assert kind_mentions(line, kinds), line
    for line in ('decoding.choice_mode', 'out["short"] = short', '"choice scored by"', '# TaskKind.choice'):
        assert not kind_mentions(line, kinds), line


# What the command line may import besides lorabench.api and itself (see the cli-over-api contract).
CLI_MAY_IMPORT = {
    "lorabench", "lorabench.api", "lorabench.cli", "lorabench.results", "lorabench.config", "lorabench.config.settings",
    "lorabench.config.decoding", "lorabench.config.judge", "lorabench.config.prompt", "lorabench.data", "lorabench.data.spec",
    "lorabench.data.records", "lorabench.prompts", "lorabench.metrics", "lorabench.metrics.settings", "lorabench.core",
    "lorabench.core.errors", "lorabench.core.messages", "lorabench.core.notices", "lorabench.core.version", "lorabench.__main__",
}


def test_the_cli_contract_forbids_every_module_it_does_not_allow() -> None:
    # A module added to lorabench later is off limits to the cli until it is listed as public.
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    forbidden = next(c for c in contracts if c["id"] == "cli-over-api")["forbidden_modules"]
    modules = {".".join(("lorabench", *p.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
               for p in SRC.rglob("*.py")}
    allowed = {m for m in modules if any(m == a or m.startswith(a + ".") for a in ("lorabench.cli", "lorabench.results"))}
    uncovered = sorted(
        m for m in modules - CLI_MAY_IMPORT - allowed
        if not any(m == f or m.startswith(f + ".") for f in forbidden)
    )
    assert not uncovered, f"neither allowed to nor forbidden for lorabench.cli: {uncovered}"
