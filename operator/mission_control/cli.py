"""The ``mission-control`` command line: one entry point for every process and admin task."""

from __future__ import annotations

import sys

import click

from mission_control import __version__
from mission_control.errors import ConfigError
from mission_control.settings import load_settings

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
@click.option(
    "--app-role",
    metavar="NAME",
    help="Role of the operator: gets INSERT and SELECT on the audit log, owns nothing "
    "[default: DATABASE_APP_ROLE].",
)
@click.option(
    "--readonly-role",
    metavar="NAME",
    help="Role of the sidecar: gets SELECT only [default: DATABASE_READONLY_ROLE].",
)
def migrate(app_role: str | None, readonly_role: str | None) -> None:
    """Apply the PostgreSQL schema migrations to DATABASE_URL (idempotent, concurrency-safe).

    Run it as the role that owns the schema; the application and read-only roles then get
    exactly their rights.
    """
    # Imported here so that the other commands start without loading the database driver.
    import asyncio

    from mission_control.store import StoreError, apply_migrations, required_version

    url = _database_url()
    database = load_settings().database
    app_role = app_role or database.database_app_role
    readonly_role = readonly_role or database.database_readonly_role
    try:
        applied = asyncio.run(apply_migrations(url, app_role=app_role, readonly_role=readonly_role))
    except StoreError as exc:
        click.echo(f"migrate failed: {exc}", err=True)
        sys.exit(1)
    for migration in applied:
        click.echo(f"applied {migration.version:04d}_{migration.name}")
    click.echo(f"schema is at version {required_version()}")
    for role, rights in ((app_role, "application"), (readonly_role, "read-only")):
        if role:
            click.echo(f"granted {rights} rights to role {role}")


@cli.group()
def audit() -> None:
    """Inspect the tamper-evident audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 and name the first broken link if any."""
    import asyncio  # see migrate
    import logging

    from mission_control.store import Store, StoreError, VerifyResult

    url = _database_url()
    wait_timeout = load_settings().database.database_wait_timeout_seconds
    # The pool logs each failed connection attempt; a one-shot command states the cause once.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)

    async def verify() -> VerifyResult:
        async with Store.open(url, min_size=1, max_size=1, wait_timeout=wait_timeout) as store:
            return await store.audit.verify()

    try:
        result = asyncio.run(verify())
    except StoreError as exc:
        click.echo(f"audit verify failed: {exc}", err=True)
        sys.exit(1)
    if not result.ok:
        click.echo(
            f"audit chain broken at entry {result.first_broken_id}: {result.what_differs}",
            err=True,
        )
        sys.exit(1)
    click.echo(f"audit chain intact: {result.checked} entries verified")


def _database_url() -> str:
    database = load_settings().database
    if database.database_url is None:
        raise ConfigError("DATABASE_URL: is not set (the libpq URL of the PostgreSQL database)")
    return database.database_url.get_secret_value()


def main() -> None:
    """Console-script entry point; configuration problems end in one line, exit code 2."""
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
