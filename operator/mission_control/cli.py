"""The ``mission-control`` command line: one entry point for every process and admin task."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mission_control import __version__
from mission_control.approval_cli import approve, reject
from mission_control.errors import ConfigError
from mission_control.logs_cli import logs
from mission_control.settings import load_settings

if TYPE_CHECKING:
    from mission_control.connectors.audit_checkpoint import AuditCheckpoints
    from mission_control.store import Store

__all__ = ["main"]


_KEY_OPTIONAL = click.option(
    "--audit-key-optional",
    is_flag=True,
    help="Go on without MC_AUDIT_KEY_FILE: the chain is then plain SHA-256, which anyone "
    "with write access to the database can recompute.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mission-control")
def cli() -> None:
    """Mission Control: hand operational work to an LLM agent, safely and on the record."""


@cli.command()
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Serve this namespace (repeatable; a glob such as 'team-*' works too).",
)
@click.option("-A", "--all-namespaces", "clusterwide", is_flag=True, help="Serve every namespace.")
@click.option(
    "--liveness",
    metavar="URL",
    default="http://0.0.0.0:8080/healthz",
    show_default=True,
    help="Where the liveness probe is served; 'none' serves none.",
)
@click.option(
    "-l",
    "--selector",
    metavar="SELECTOR",
    default=None,
    help="Serve only TaskRuns whose labels match (kubectl syntax: 'shard=a', 'k!=v', 'k', "
    "'!k', comma-separated); operators with disjoint selectors share the namespaces.",
)
@click.option(
    "--peering",
    metavar="NAME",
    default=None,
    help="Run with kopf peering under this peering object (KopfPeering in each namespace, "
    "ClusterKopfPeering with -A): one replica is active, the others stand by.",
)
@click.option(
    "--priority",
    type=int,
    default=None,
    help="With --peering: the replica with the highest priority is the active one. "
    "Default: by start time, the replica started first stays active (replicas of one "
    "Deployment share their arguments, and equal priorities would pause them all).",
)
@_KEY_OPTIONAL
def operator(
    namespaces: tuple[str, ...],
    clusterwide: bool,
    liveness: str,
    selector: str | None,
    peering: str | None,
    priority: int | None,
    audit_key_optional: bool,
) -> None:
    """Run the operator (kopf, standalone): drives TaskRuns, keeps Tasks and ToolPolicies Ready.

    Logs go to stderr, one line per event (LOG_FORMAT=json for JSON lines, LOG_LEVEL).
    """
    if clusterwide == bool(namespaces):
        raise click.UsageError("give either -n NS (one or more) or -A, not both or neither")
    from mission_control.handlers import configure_logging, parse_selector, run_operator
    from mission_control.wiring.operator import operator_services

    try:
        labels = parse_selector(selector) if selector is not None else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--selector") from None
    settings = load_settings()
    configure_logging(level=settings.operator.log_level, log_format=settings.operator.log_format)

    async def serve() -> None:
        async with operator_services(
            settings, audit_key_optional=audit_key_optional, selector=labels
        ) as services:
            await run_operator(
                services,
                namespaces=namespaces,
                clusterwide=clusterwide,
                liveness_endpoint=None if liveness == "none" else liveness,
                selector=labels,
                peering=peering,
                priority=_startup_priority() if priority is None else priority,
            )

    _run_service("operator", serve())


@cli.command()
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve without API_AUTH_TOKEN: anyone who can reach the port reads every transcript "
    "(a warning is logged every minute).",
)
def sidecar(insecure_no_auth: bool) -> None:
    """Run the read-only HTTP API on MC_SIDECAR_PORT: runs, journal, inventory, tasks, usage, SSE.

    Connect it to PostgreSQL as the read-only role (DATABASE_URL with that user).
    """
    import logging

    from mission_control.sidecar import build_services, check_sidecar_settings, serve_sidecar
    from mission_control.store import Store
    from mission_control.wiring import build_connectors

    settings = load_settings()
    logging.basicConfig(
        level=settings.operator.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    connectors = build_connectors(settings)
    check_sidecar_settings(
        settings.sidecar, insecure=insecure_no_auth, kubernetes=connectors.kubernetes is not None
    )

    async def serve() -> None:
        # The provider libraries are large: loaded only when a provider is configured.
        configured = (settings.ollama.base_url, settings.gemini.api_key, settings.anthropic.api_key)
        providers = None
        if any(value is not None for value in configured):
            from mission_control.llm.factory import build_providers

            providers = build_providers(settings)
        try:
            async with Store.from_settings(settings.database) as store:
                services = build_services(
                    settings.sidecar,
                    store=store,
                    connectors=connectors,
                    providers=None if providers is None else providers.check,
                    insecure=insecure_no_auth,
                )
                await serve_sidecar(settings.sidecar, services)
        finally:
            if providers is not None:
                await providers.aclose()
            await connectors.aclose()

    _run_service("sidecar", serve())


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
    app_role = app_role or database.app_role
    readonly_role = readonly_role or database.readonly_role
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
@_KEY_OPTIONAL
@click.option(
    "--no-checkpoint",
    is_flag=True,
    help="Do not compare with the checkpoint in Kubernetes (a truncated tail goes unnoticed).",
)
def audit_verify(audit_key_optional: bool, no_checkpoint: bool) -> None:
    """Walk the audit hash chain and compare it with its checkpoint; exit 1 on any damage."""
    from mission_control.wiring.audit_anchor import verify_audit_chain

    async def verify() -> str:
        async with _audit_context(key_optional=audit_key_optional, anchored=not no_checkpoint) as (
            store,
            checkpoints,
        ):
            result, recorded = await verify_audit_chain(store, checkpoints)
        if result.truncated:
            _fail(f"audit chain truncated: {result.what_differs}")
        if not result.ok:
            _fail(f"audit chain broken at entry {result.first_broken_id}: {result.what_differs}")
        if checkpoints is None:
            against = "checkpoint not compared"
        elif recorded is None:
            against = f"no checkpoint in {checkpoints.where} yet"
        else:
            against = f"checkpoint entry {recorded.entry_id} in {checkpoints.where} matches"
        return f"audit chain intact: {result.checked} entries verified; {against}"

    click.echo(_run_audit("audit verify", verify()))


@audit.command("checkpoint")
@_KEY_OPTIONAL
def audit_checkpoint(audit_key_optional: bool) -> None:
    """Verify the chain, then record its head (entry id and hash) in Kubernetes."""
    from mission_control.wiring.audit_anchor import checkpoint_audit_chain

    async def checkpoint() -> str:
        async with _audit_context(key_optional=audit_key_optional, anchored=True) as (
            store,
            checkpoints,
        ):
            if checkpoints is None:  # anchored=True always builds them
                raise RuntimeError("no checkpoint location")
            result = await checkpoint_audit_chain(store, checkpoints)
        if not result.ok:
            _fail(f"not checkpointed, the audit chain is damaged: {result.what_differs}")
        if result.head is None:
            return "audit log is empty: nothing to checkpoint"
        return (
            f"audit checkpoint: entry {result.head.entry_id} ({result.head.hash[:12]}...) "
            f"recorded in {checkpoints.where}"
        )

    click.echo(_run_audit("audit checkpoint", checkpoint()))


class _AuditDamaged(Exception):
    """The chain failed a check: the message says how; the command exits 1."""


def _startup_priority() -> int:
    """A peering priority that ranks replicas by start time, the earliest highest.

    A replica restarted next to an active one stands by instead of taking its runs over, and
    two replicas collide only if they start in the same microsecond.
    """
    return -(time.time_ns() // 1_000)


def _fail(message: str) -> NoReturn:
    raise _AuditDamaged(message)


@asynccontextmanager
async def _audit_context(
    *, key_optional: bool, anchored: bool
) -> AsyncIterator[tuple[Store, AuditCheckpoints | None]]:
    """The store with the audit key, and the checkpoint in Kubernetes when ``anchored``."""
    from mission_control.connectors.audit_checkpoint import AuditCheckpoints
    from mission_control.connectors.kubernetes import KubernetesConnector
    from mission_control.store import Store, require_audit_key

    settings = load_settings()
    url = _database_url()
    key = require_audit_key(settings.audit, optional=key_optional)
    kubernetes = KubernetesConnector.from_settings(settings.kubernetes) if anchored else None
    try:
        checkpoints = (
            None
            if kubernetes is None
            else AuditCheckpoints.from_settings(kubernetes, settings.audit)
        )
        async with Store.open(
            url,
            min_size=1,
            max_size=1,
            wait_timeout=settings.database.wait_timeout_seconds,
            audit_key=key,
        ) as store:
            yield store, checkpoints
    finally:
        if kubernetes is not None:
            await kubernetes.aclose()


def _run_audit(command: str, work: Coroutine[Any, Any, str]) -> str:
    """Run an audit command's work; damage and failures end in one line and exit 1."""
    import asyncio  # see migrate
    import logging

    from mission_control.connectors.errors import ConnectorError
    from mission_control.store import StoreError

    # The pool logs each failed connection attempt; a one-shot command states the cause once.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(work)
    except _AuditDamaged as exc:
        click.echo(str(exc), err=True)
    except (StoreError, ConnectorError) as exc:
        click.echo(f"{command} failed: {exc}", err=True)
    sys.exit(1)


cli.add_command(approve)
cli.add_command(reject)
cli.add_command(logs)


def _run_service(command: str, work: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived process; a failure to start ends in one line and exit 1."""
    import asyncio  # see migrate

    from mission_control.connectors.errors import ConnectorError, ConnectorNotConfigured
    from mission_control.store import StoreError

    try:
        asyncio.run(work)
    except ConnectorNotConfigured as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except (StoreError, ConnectorError) as exc:
        click.echo(f"{command} failed: {exc}", err=True)
        sys.exit(1)


def _database_url() -> str:
    return load_settings().database.require_url()


def main() -> None:
    """Console-script entry point; configuration problems end in one line, exit code 2."""
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
