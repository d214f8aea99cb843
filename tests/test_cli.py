"""The command line: every command explains itself."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mission_control.cli import cli


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "hand operational work to an LLM agent"),
        (["operator"], "Run the operator"),
        (["sidecar"], "read-only HTTP API"),
        (["migrate"], "schema migrations"),
        (["audit", "verify"], "hash chain"),
        (["audit", "checkpoint"], "record its head"),
        (["migrate"], "--app-role NAME"),
    ],
)
def test_every_command_has_help(args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0
    assert says in result.output
