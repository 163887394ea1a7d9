"""The library names keys; each command shows them as its options. Messages never read as markup."""

from __future__ import annotations

from rich.console import Console

from lorabench.cli.common import FLAGS, as_flags, say_on
from lorabench.cli.evaluate import EVAL_FIELDS
from lorabench.core.errors import LorabenchError
from lorabench.core.notices import alarm, warn


def test_library_keys_become_the_commands_options():
    message = "prompts differ; pass allow_prompt_change=True to evaluate anyway, or force=True to train again"
    assert as_flags(message, FLAGS) == "prompts differ; pass --allow-prompt-change to evaluate anyway, or --force to train again"
    eval_flags = {**FLAGS, **EVAL_FIELDS}
    # the setting an error is about is its field, as data: named by the option that sets it
    error = LorabenchError.about("decoding.choice_mode", "letter needs options")
    assert as_flags(error, eval_flags) == "--choice-mode: letter needs options"
    error = LorabenchError.about("few_shot_from", "no few_shot; give them with prompt=FILE")
    assert as_flags(error, eval_flags) == "--few-shot-from: no few_shot; give them with --prompt FILE"
    assert as_flags("give few_shot_from=FILE or an adapter= trained with few_shot", eval_flags) == (
        "give --few-shot-from FILE or an --adapter trained with few_shot")
    assert as_flags("LoRA rank 512 is above 256; use decoding.backend=hf", eval_flags).endswith("use --backend hf")
    # only whole keys: a longer name that ends like one is left alone
    assert as_flags("reinforce=True; allow_prompt_change=Truer", FLAGS) == "reinforce=True; --allow-prompt-changer"
    # a key without an option of its own is named by the nearest enclosing one (merge's --data)
    error = LorabenchError.about("data.path", "Value error, no such file (got 'x.jsonl')")
    assert as_flags(error, {"data": "--data"}) == "--data: Value error, no such file (got 'x.jsonl')"
    # a message that does not start with its field (a config file's line first) keeps its wording
    error = LorabenchError("run.yaml:3: decoding.choice_mode: bad", field="decoding.choice_mode")
    assert as_flags(error, eval_flags) == "run.yaml:3: decoding.choice_mode: bad"


def test_messages_print_with_their_level_and_never_as_markup():
    console = Console(record=True, width=200, force_terminal=True, color_system="standard")
    say = say_on(console)
    say(warn("validation: [bold]8[/] items"))
    say(alarm("train vs test: 3 questions in both (use force=True)"))
    say("data: train 8")
    text = console.export_text(styles=False, clear=False)
    assert text.splitlines() == ["validation: [bold]8[/] items", "train vs test: 3 questions in both (use --force)", "data: train 8"]
    styled = console.export_text(styles=True)
    assert "\x1b[33m" in styled and "\x1b[31m" in styled  # yellow warning, red alarm
