"""`flexrun runs` and `flexrun cost` are click commands: click's help, click's errors, the shared target."""

from __future__ import annotations

from click.testing import CliRunner

from cli.__main__ import main


def test_runs_help_is_clicks_and_lists_every_command_and_the_env_file():
    shown = CliRunner().invoke(main, ["runs", "--help"])
    assert shown.exit_code == 0 and shown.output.startswith("Usage: main runs [OPTIONS] COMMAND [ARGS]...")
    for command in ("list", "show", "compare", "reconcile"):
        assert f"\n  {command} " in shown.output
    assert "--env-file" in shown.output and "[default: .local-" in shown.output  # as `flexrun package` finds it


def test_cost_help_is_clicks_and_a_bad_month_is_refused_before_any_store_is_read():
    shown = CliRunner().invoke(main, ["cost", "--help"])
    assert shown.exit_code == 0 and "--month [%Y-%m]" in shown.output
    refused = CliRunner().invoke(main, ["cost", "--month", "November"])
    assert refused.exit_code == 2 and "Invalid value for '--month'" in refused.output
