"""``mission-control operator``: how it is started, and how it refuses to start, in one line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mission_control.cli import cli
from tests.e2e.harness import mission_control, operator_env


def start(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mission_control(), "operator", *args],
        env=operator_env(os.environ, env.items()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("args", [[], ["-n", "ops", "-A"]])
def test_the_namespaces_to_serve_must_be_chosen(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["operator", *args])

    assert result.exit_code == 2
    assert "give either -n NS (one or more) or -A" in result.output


def test_help_names_the_namespace_options_and_the_probe() -> None:
    result = CliRunner().invoke(cli, ["operator", "--help"])

    assert result.exit_code == 0
    for option in ("--namespace", "--all-namespaces", "--liveness", "--audit-key-optional"):
        assert option in result.output


def test_a_missing_audit_key_stops_the_start_in_one_line(tmp_path: Path) -> None:
    result = start("-n", "ops", env={"DATABASE_URL": "postgresql://mc@127.0.0.1:1/mc"})

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("configuration error: MC_AUDIT_KEY_FILE: is not set")


def test_a_malformed_setting_stops_the_start_in_one_line_naming_it() -> None:
    result = start("-A", "--audit-key-optional", env={"LOG_FORMAT": "xml"})

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("configuration error: LOG_FORMAT:")


def test_no_database_url_stops_the_start_in_one_line() -> None:
    result = start("-A", "--audit-key-optional", env={})

    assert result.returncode == 2
    assert result.stderr == (
        "configuration error: DATABASE_URL: is not set (the libpq URL of the PostgreSQL database)\n"
    )


@pytest.mark.postgres
def test_an_unreachable_kubernetes_stops_the_start_in_one_line(
    tmp_path: Path, database_url: str
) -> None:
    kubeconfig = tmp_path / "missing-kubeconfig"

    result = start(
        "-A",
        "--audit-key-optional",
        env={"DATABASE_URL": database_url, "KUBECONFIG": str(kubeconfig)},
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "KUBECONFIG" in result.stderr
