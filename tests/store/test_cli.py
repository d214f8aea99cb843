"""``mission-control migrate`` and ``mission-control audit verify`` from the command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from mission_control.store import Store

pytestmark = pytest.mark.postgres

COMMAND = Path(sys.executable).with_name("mission-control")


async def run_cli(
    *args: str, database_url: str | None, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(settings)
    return await asyncio.to_thread(
        subprocess.run, [str(COMMAND), *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_migrate_without_database_url_names_the_variable() -> None:
    result = await run_cli("migrate", database_url=None)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DATABASE_URL: is not set (the libpq URL of the PostgreSQL database)"
    ]


async def test_audit_verify_without_database_url_names_the_variable() -> None:
    result = await run_cli("audit", "verify", database_url=None)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DATABASE_URL: is not set (the libpq URL of the PostgreSQL database)"
    ]


UNANCHORED = ("--audit-key-optional", "--no-checkpoint")


@pytest.mark.parametrize("command", [("migrate",), ("audit", "verify", *UNANCHORED)])
async def test_a_malformed_database_url_is_one_line_without_the_password(
    command: tuple[str, ...],
) -> None:
    result = await run_cli(*command, database_url="postgresql://mc:s3cret%zz@db:5432/mc")

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: DATABASE_URL: is not a valid PostgreSQL URL")
    assert "s3cret" not in result.stderr + result.stdout


async def test_migrate_applies_the_schema_then_has_nothing_to_do(empty_database_url: str) -> None:
    first = await run_cli("migrate", database_url=empty_database_url)
    second = await run_cli("migrate", database_url=empty_database_url)

    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    assert "applied 0002_journal_event_ids" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stdout
    assert "schema is at version" in second.stdout


async def test_migrate_reports_an_unreachable_database() -> None:
    unreachable = "postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2"

    result = await run_cli("migrate", database_url=unreachable)

    assert result.returncode == 1
    assert result.stderr.startswith("migrate failed: could not apply migrations")


async def test_audit_verify_reports_an_unreachable_database_in_one_line() -> None:
    unreachable = "postgresql://mc:s3cret@127.0.0.1:1/nothing"

    result = await run_cli(
        "audit",
        "verify",
        *UNANCHORED,
        database_url=unreachable,
        DATABASE_WAIT_TIMEOUT_SECONDS="0.5",
    )

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("audit verify failed: could not connect to PostgreSQL: connection")
    assert "Connection refused" in line
    assert "s3cret" not in line


async def test_audit_verify_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    result = await run_cli("audit", "verify", *UNANCHORED, database_url=empty_database_url)

    assert result.returncode == 1
    assert "run `mission-control migrate`" in result.stderr


async def test_audit_verify_passes_an_intact_chain_and_fails_a_tampered_one(
    store: Store,
) -> None:
    for n in range(3):
        await store.audit.append(
            actor="alice", actor_kind="user", action="approve", target="t", details={"n": n}
        )
    intact = await run_cli("audit", "verify", *UNANCHORED, database_url=store.db.url)
    victim = (await store.audit.entries())[1]
    async with await psycopg.AsyncConnection.connect(store.db.url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_entries SET actor = 'mallory' WHERE id = %s", (victim.id,))
        await conn.execute("ALTER TABLE audit_entries ENABLE TRIGGER USER")

    tampered = await run_cli("audit", "verify", *UNANCHORED, database_url=store.db.url)

    assert (intact.returncode, intact.stdout.strip()) == (
        0,
        "audit chain intact: 3 entries verified; checkpoint not compared",
    )
    assert tampered.returncode == 1
    assert tampered.stderr.startswith(f"audit chain broken at entry {victim.id}: stored hash")
