"""Options made from settings fields: eval's settings flags come from the schema and cannot drift."""

from __future__ import annotations

import inspect
from typing import Literal

import pytest
import typer
from pydantic import BaseModel, Field, ValidationError
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.cli.common import user_errors
from lorabench.cli.evaluate import EVAL_OPTIONS
from lorabench.cli.settings_options import SettingsOption, field_flags, given, scalar_fields, with_options
from lorabench.core.errors import invalid_settings
from lorabench.config.decoding import DecodingSettings

runner = CliRunner()


def _help(command: str) -> str:
    return " ".join(runner.invoke(app, [command, "--help"], terminal_width=400).output.split())


def test_every_decoding_setting_is_an_eval_flag_with_the_schemas_help_and_default():
    text = _help("eval")
    # A nested section (decoding.vllm) gives one flag per field of its own.
    fields = [
        (f"decoding.{name}.{sub}" if isinstance(field.default_factory, type) else f"decoding.{name}", sub_field)
        for name, field in DecodingSettings.model_fields.items()
        for sub, sub_field in (
            field.default_factory.model_fields.items() if isinstance(field.default_factory, type) else [(name, field)]
        )
    ]
    for key, field in fields:
        flag = "--" + key.rsplit(".", 1)[-1].replace("_", "-")
        assert flag in text, f"{key} has no eval flag"
        assert " ".join(field.description.split()) in text, f"{flag} help is not {key}'s description"
    assert "--batch-size <int>" in text and "[default: 8]" in text
    assert "--choice-mode logprob|letter|generate" in text


def test_eval_options_are_the_settings_fields_they_set():
    for option in EVAL_OPTIONS:
        assert option.field in option.model.model_fields, f"{option.flag}: {option.model.__name__} has no {option.field}"
    flags = [option.flag for option in EVAL_OPTIONS]
    assert len(flags) == len(set(flags))
    for flag in ("--model", "--data", "--task", "--format", "--preset", "--max-new-tokens", "--batch-size",
                 "--choice-mode", "--backend", "--chat-template", "--system", "--dtype", "--device", "--trust-remote-code"):
        assert flag in flags


class Toy(BaseModel):
    mode: Literal["fast", "careful"] = Field("fast", description="How to go.")
    steps: int | None = Field(None, gt=0, description="How many.")
    verbose: bool = Field(False, description="Say more.")
    ratio: float = Field(0.5, ge=0, le=1, description="A share.")
    nested: DecodingSettings = Field(default_factory=DecodingSettings)
    names: list[str] = Field(default_factory=list)


def test_a_field_added_to_a_settings_model_is_an_option_with_nothing_else_to_write():
    options = scalar_fields(Toy, "toy")
    assert [o.field for o in options] == ["mode", "steps", "verbose", "ratio"]  # nested and list fields are not
    seen: dict[str, object] = {}

    def command(**values: object) -> None:
        try:  # as lorabench.api does: the settings' error names its key, the command maps it to the flag
            seen.update(Toy(**given(options, values).get("toy", {})).model_dump())
        except ValidationError as error:
            raise invalid_settings(error, "toy") from None

    toy = typer.Typer(rich_markup_mode=None)
    toy.command()(user_errors(with_options(command, options, inspect.Signature()), fields=field_flags(options)))
    toy.command("other")(lambda: None)  # a group, as lorabench's app is

    assert runner.invoke(toy, ["command", "--steps", "3", "--verbose"]).exit_code == 0
    assert seen["steps"] == 3 and seen["verbose"] is True and seen["mode"] == "fast" and seen["ratio"] == 0.5
    refused = runner.invoke(toy, ["command", "--mode", "slow"])
    assert refused.exit_code == 2 and "--mode: Input should be 'fast' or 'careful' (got 'slow')" in refused.output
    refused = runner.invoke(toy, ["command", "--ratio", "2"])
    assert refused.exit_code == 2 and "--ratio: Input should be less than or equal to 1" in refused.output
    assert runner.invoke(toy, ["command", "--no-verbose"]).exit_code == 0 and seen["verbose"] is False
    text = " ".join(runner.invoke(toy, ["command", "--help"], terminal_width=400).output.split())
    assert "--mode fast|careful How to go. [default: fast]" in text and "--steps <int> How many." in text


def test_an_option_of_a_nested_section_lands_one_level_down():
    options = [SettingsOption("decoding", DecodingSettings, "batch_size"), SettingsOption("decoding.inner", Toy, "steps")]
    values = {"decoding_batch_size": 4, "decoding_inner_steps": 2}
    assert given(options, values) == {"decoding": {"batch_size": 4, "inner": {"steps": 2}}}


def test_a_required_option_has_no_default():
    option = SettingsOption("model", DecodingSettings, "batch_size", required=True)
    assert SettingsOption("x", Toy, "steps").flag == "--steps" and option.parameter == "model_batch_size"
    from lorabench.cli.settings_options import parameter

    assert parameter(option).default is inspect.Parameter.empty


@pytest.mark.parametrize("field", ["nested", "names"])
def test_a_field_with_no_command_line_type_is_refused_loudly(field):
    from lorabench.cli.settings_options import parameter

    with pytest.raises(AssertionError, match=f"Toy.{field} has no command-line type"):
        parameter(SettingsOption("toy", Toy, field))
