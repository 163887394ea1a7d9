"""The library names keys; each command shows them as its options. Messages never read as markup."""

from __future__ import annotations

from rich.console import Console

from lorabench.cli.common import FLAGS, as_flags, say_on
from lorabench.cli.evaluate import EVAL_FIELDS
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.core.notices import alarm, warn


def test_library_keys_become_the_commands_options():
    message = Message("prompts differ; pass ", Hint("allow_prompt_change"), " to evaluate anyway, or ", Hint("force"),
                      " to train again")
    assert message == "prompts differ; pass allow_prompt_change=True to evaluate anyway, or force=True to train again"
    assert as_flags(message, FLAGS) == "prompts differ; pass --allow-prompt-change to evaluate anyway, or --force to train again"
    eval_flags = {**FLAGS, **EVAL_FIELDS}
    # the setting an error is about is its field, as data: named by the option that sets it
    error = LorabenchError.about("decoding.choice_mode", "letter needs options")
    assert as_flags(error, eval_flags) == "--choice-mode: letter needs options"
    error = LorabenchError.about("few_shot_from", Message("no few_shot; give them with ", Hint("prompt", "FILE")))
    assert str(error) == "few_shot_from: no few_shot; give them with prompt=FILE"
    assert as_flags(error, eval_flags) == "--few-shot-from: no few_shot; give them with --prompt FILE"
    message = Message("give ", Hint("few_shot_from", "FILE"), " or an ", Hint("adapter", ""), " trained with few_shot")
    assert message == "give few_shot_from=FILE or an adapter= trained with few_shot"
    assert as_flags(message, eval_flags) == "give --few-shot-from FILE or an --adapter trained with few_shot"
    message = Message("LoRA rank 512 is above 256; use ", Hint("decoding.backend", "hf"))
    assert as_flags(message, eval_flags).endswith("use --backend hf")
    # a setting the command has no option for keeps the library's words (`run` has no --backend)
    assert as_flags(message, FLAGS).endswith("use decoding.backend=hf")
    # words are never read: a key=value in the text (a question, a path) is data, left alone
    assert as_flags("reinforce=True; allow_prompt_change=Truer", FLAGS) == "reinforce=True; allow_prompt_change=Truer"
    assert as_flags(Message("question 'force=True?' ", Hint("allow_prompt_change")), FLAGS) == (
        "question 'force=True?' --allow-prompt-change")
    # a key without an option of its own is named by the nearest enclosing one (merge's --data)
    error = LorabenchError.about("data.path", "Value error, no such file (got 'x.jsonl')")
    assert as_flags(error, {"data": "--data"}) == "--data: Value error, no such file (got 'x.jsonl')"
    # a message that does not start with its field (a config file's line first) keeps its wording
    error = LorabenchError("run.yaml:3: decoding.choice_mode: bad", field="decoding.choice_mode")
    assert as_flags(error, eval_flags) == "run.yaml:3: decoding.choice_mode: bad"


def test_a_message_keeps_its_settings_through_joins_additions_and_pickling():
    import pickle

    found = Message("; ").join(["items differ", Message("scored by version 1 (rerun with ", Hint("force"), ")")])
    joined = "not paired: " + found + Message(", or pass ", Hint("anyway"))
    assert joined == "not paired: items differ; scored by version 1 (rerun with force=True), or pass anyway=True"
    assert as_flags(joined, FLAGS) == "not paired: items differ; scored by version 1 (rerun with --force), or pass --anyway"
    notice = pickle.loads(pickle.dumps(alarm("keeping the adapter (", Hint("allow_prompt_change"), ")")))
    assert as_flags(notice, FLAGS) == "keeping the adapter (--allow-prompt-change)" and notice.level == alarm("x").level
    error = pickle.loads(pickle.dumps(LorabenchError.about("force", Message("pass ", Hint("force")))))
    assert (error.field, as_flags(error, FLAGS)) == ("force", "--force: pass --force")


def test_messages_print_with_their_level_and_never_as_markup():
    console = Console(record=True, width=200, force_terminal=True, color_system="standard")
    say = say_on(console)
    say(warn("validation: [bold]8[/] items"))
    say(alarm("train vs test: 3 questions in both (use ", Hint("force"), ")"))
    say("data: train 8")
    text = console.export_text(styles=False, clear=False)
    assert text.splitlines() == ["validation: [bold]8[/] items", "train vs test: 3 questions in both (use --force)", "data: train 8"]
    styled = console.export_text(styles=True)
    assert "\x1b[33m" in styled and "\x1b[31m" in styled  # yellow warning, red alarm
