"""The ``mission-control`` command line: one entry point for every process and admin task."""

from __future__ import annotations

import sys

import click

from mission_control import __version__
from mission_control.errors import ConfigError

__all__ = ["main"]


def _not_built(what: str) -> None:
    click.echo(f"mission-control {what}: not available in this version yet", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mission-control")
def cli() -> None:
    """Mission Control: hand operational work to an LLM agent, safely and on the record."""


@cli.command()
def operator() -> None:
    """Run the operator (kopf): drives TaskRuns, enforces policy, writes the journal."""
    _not_built("operator")


@cli.command()
def sidecar() -> None:
    """Run the read-only HTTP API (journal, inventory, usage, SSE)."""
    _not_built("sidecar")


@cli.command()
def migrate() -> None:
    """Apply the PostgreSQL schema migrations to DATABASE_URL (idempotent, concurrency-safe)."""
    _not_built("migrate")


@cli.group()
def audit() -> None:
    """Inspect the tamper-evident audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 and name the first broken link if any."""
    _not_built("audit verify")


def main() -> None:
    """Console-script entry point; configuration problems end in one line, exit code 2."""
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
