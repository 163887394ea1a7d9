"""A message's settings are data: the library reads `force=True`, the command line `--force`, and
no message writes a setting into its words where the command line could not find it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Key, Message
from lorabench.core.notices import level_of, warn

SRC = Path(__file__).resolve().parents[2] / "src" / "lorabench"


def test_a_message_reads_in_the_librarys_terms_and_renders_each_setting_another_way():
    message = Message("pass ", Hint("force"), " or ", Hint("prompt", "FILE"), " to ", Key("data.path"))
    assert isinstance(message, str) and message == "pass force=True or prompt=FILE to data.path"
    assert message.render(lambda part: f"<{part}>") == "pass <force=True> or <prompt=FILE> to <data.path>"
    assert Message("a ", message).parts == ("a ", *message.parts)  # nested messages flatten
    notice = warn("use ", Hint("decoding.backend", "hf"))
    assert notice == "use decoding.backend=hf" and level_of(notice) > level_of("plain")
    assert notice.render(lambda part: "--backend hf") == "use --backend hf"


def test_an_error_holds_its_leading_field_as_a_key_and_its_reason_after_it():
    error = LorabenchError("decoding.batch_size: Input should be greater than 0", field="decoding.batch_size")
    assert error.message.parts[0] == Key("decoding.batch_size") and error.reason == "Input should be greater than 0"
    about = LorabenchError.about("few_shot_from", Message("give them with ", Hint("prompt", "FILE")))
    assert str(about) == "few_shot_from: give them with prompt=FILE" and about.field == "few_shot_from"
    assert about.reason == "give them with prompt=FILE" and Hint("prompt", "FILE") in about.reason.parts
    # a message that does not start with its field has no leading key: its words stay as they are
    located = LorabenchError("run.yaml:3: decoding.choice_mode: bad", field="decoding.choice_mode")
    assert located.message.parts == ("run.yaml:3: decoding.choice_mode: bad",) and located.reason == str(located)


def _option_keys() -> set[str]:
    """Every setting or keyword some command has an option for."""
    from lorabench.cli import COMMANDS, score
    from lorabench.cli.common import FLAGS, command_flags
    from lorabench.cli.evaluate import EVAL_FIELDS
    from lorabench.cli.judge import JUDGE_FLAGS

    keys = {*FLAGS, *EVAL_FIELDS, *JUDGE_FLAGS, *score.FIELDS}
    for command in COMMANDS.values():
        keys |= set(command_flags(inspect.unwrap(command)))
    return keys


def _texts(tree: ast.AST) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings (f-strings' literal parts included)."""
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _prose(tree: ast.AST) -> list[tuple[int, str]]:
    """The texts of a module that are not documentation (docstrings, a setting's or an option's
    `description=`/`help=`): string constants, and each f-string as one text, `{}` for each value."""
    documented: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)):
            documented.add(id(node.body[0].value))
        if isinstance(node, ast.keyword) and node.arg in ("description", "help"):
            documented |= {id(inner) for inner in ast.walk(node.value)}
        if isinstance(node, ast.JoinedStr):  # its parts are read as one text below
            documented |= {id(inner) for inner in ast.walk(node) if inner is not node}
    texts = []
    for node in ast.walk(tree):
        if id(node) in documented:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            texts.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)))
    return sorted(texts)


def _as_words(source: str, keys: list[str]) -> list[tuple[int, str]]:
    """Where a module's texts (docstrings aside) write `key=` for one of `keys`."""
    pattern = re.compile(rf"(?<![\w.-])({'|'.join(map(re.escape, sorted(keys, key=len, reverse=True)))})=")
    return [(line, match[0]) for line, text in _texts(ast.parse(source)) for match in pattern.finditer(text)]


def test_no_library_message_writes_a_setting_with_an_option_as_words():
    # `pass force=True` written as text reaches the terminal as is: the command line words Hints only.
    keys = list(_option_keys())
    found = [f"{path.relative_to(SRC)}:{line}: {hit}"
             for path in sorted(SRC.rglob("*.py")) if path.relative_to(SRC).parts[0] != "cli"
             for line, hit in _as_words(path.read_text(encoding="utf-8"), keys)]
    assert not found, "\n".join(found)


def test_the_scan_sees_a_setting_written_as_words_outside_docstrings():
    source = '"""Docstrings may say force=True."""\nsay("skipping (use force=True)")\nx = f"{a} or decoding.backend=hf"\n'
    assert _as_words(source, ["force", "decoding.backend", "backend"]) == [(2, "force="), (3, "decoding.backend=")]
    assert _as_words('say("reinforce=True")\n', ["force"]) == []


def _options() -> set[str]:
    """Every option of every command (`--force`, `--no-force`, `--choice-mode`)."""
    import typer.main

    from lorabench.cli import app

    group = typer.main.get_command(app)
    return {name for command in group.commands.values() for param in command.params
            for name in (*param.opts, *param.secondary_opts) if name.startswith("--")}


# A command line to run, quoted whole (`lorabench track RUN --backend mlflow`, or on a line of its own
# in a model card's shell block), is advice an API user can follow too: its options are that
# command's, not a setting of the call that says it.
_COMMAND_LINE = re.compile(r"`(?:lorabench|accelerate|torchrun) [^`]*`|^(?:lorabench|accelerate|torchrun) .*$", re.M)
# Texts that hold an option as data, not as advice: a run folder's config.yaml records how the
# user allowed a prompt change (`prompt_change.allowed_by`), and run folders keep their format.
_RECORDED = {"evaluation/runner.py": {"--allow-prompt-change"}, "pipeline/run.py": {"--allow-prompt-change"}}


def _as_options(source: str, options: set[str], recorded: set[str] = frozenset()) -> list[tuple[int, str]]:
    """Where a module's texts (documentation aside) write one of `options` as words."""
    pattern = re.compile(rf"(?<![\w-])({'|'.join(map(re.escape, sorted(options, key=len, reverse=True)))})(?![\w-])")
    return [(line, match[0]) for line, text in _prose(ast.parse(source)) if text not in recorded
            for match in pattern.finditer(_COMMAND_LINE.sub("", text))]


def test_no_library_message_writes_an_option_of_a_command():
    # `pass --force` reaches an API user as is: the library names the setting (a Hint or a Key) and
    # each command words it as its own option.
    options = _options()
    found = [f"{path.relative_to(SRC)}:{line}: {hit}"
             for path in sorted(SRC.rglob("*.py")) if path.relative_to(SRC).parts[0] != "cli"
             for line, hit in _as_options(path.read_text(encoding="utf-8"), options,
                                          _RECORDED.get(path.relative_to(SRC).as_posix(), set()))]
    assert not found, "\n".join(found)


def test_the_option_scan_sees_an_option_in_words_but_not_in_documentation_or_a_quoted_command():
    source = (
        '"""Docstrings may say --force."""\n'
        'say("choose another folder, or pass --force to replace it")\n'
        'x = f"use {a} --backend hf, or " "--choice-mode letter"\n'
        'Field(1, description="as lm-eval\'s --limit")\n'
        'hint = f"send it later with `lorabench track {folder} --backend {name}`"\n'
        'say("--batch_size and --forced are no options")\n'
        'row = {"allowed_by": "--allow-prompt-change"}\n'
        'CARD = """```sh\nlorabench eval --model M --data DATA\n```\nthen pass --force"""\n'
    )
    options = {"--force", "--backend", "--choice-mode", "--limit", "--batch-size", "--allow-prompt-change"}
    assert _as_options(source, options | {"--model", "--data"}) == [
        (2, "--force"), (3, "--backend"), (3, "--choice-mode"), (7, "--allow-prompt-change"), (8, "--force")]
    assert (7, "--allow-prompt-change") not in _as_options(source, options, {"--allow-prompt-change"})
