"""The `lorabench` app: every command's help shows every option name whole at 80 columns."""

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_help_at_80_columns_shows_every_option_name_whole():
    import click
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, result.output
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts:
                    assert flag in result.output, f"{name} --help at 80 columns lacks {flag}"
        assert "…" not in result.output
