"""Migrations: from empty, re-run, concurrent runs, and the schema check at start-up."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from mission_control.errors import ConfigError
from mission_control.settings import load_settings
from mission_control.store import (
    MigrationError,
    SchemaTooOld,
    Store,
    apply_migrations,
    required_version,
)

pytestmark = pytest.mark.postgres

DESIGN_TABLES = {
    "hosts",
    "workloads",
    "services",
    "tasks",
    "task_runs",
    "task_events",
    "llm_requests",
    "llm_responses",
    "token_usage",
    "tool_definitions",
    "tool_call_records",
    "audit_entries",
}
#: Tables the design does not name, each with the migration that adds it.
ADDED_TABLES = {"notifications_sent"}  # 0004: notifications sent, so a restart sends none twice


async def table_names(url: str) -> set[str]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        return {name for (name,) in await cursor.fetchall()}


async def test_migrating_an_empty_database_creates_every_table(empty_database_url: str) -> None:
    applied = await apply_migrations(empty_database_url)

    assert [m.version for m in applied] == list(range(1, required_version() + 1))
    assert await table_names(empty_database_url) == DESIGN_TABLES | ADDED_TABLES | {
        "schema_migrations"
    }


async def test_migrating_again_changes_nothing(empty_database_url: str) -> None:
    await apply_migrations(empty_database_url)

    assert await apply_migrations(empty_database_url) == []


async def test_concurrent_migrations_apply_each_version_once(empty_database_url: str) -> None:
    results = await asyncio.gather(*(apply_migrations(empty_database_url) for _ in range(4)))

    applied = sorted(m.version for result in results for m in result)
    assert applied == list(range(1, required_version() + 1))
    async with await psycopg.AsyncConnection.connect(empty_database_url) as conn:
        cursor = await conn.execute("SELECT count(*) FROM schema_migrations")
        assert await cursor.fetchone() == (required_version(),)


async def test_store_refuses_a_database_without_the_schema(empty_database_url: str) -> None:
    with pytest.raises(SchemaTooOld, match="run `mission-control migrate`"):
        async with Store.open(empty_database_url):
            pass


async def test_store_refuses_a_database_with_an_older_schema(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "DELETE FROM schema_migrations WHERE version = %s", (required_version(),)
        )

    with pytest.raises(SchemaTooOld) as raised:
        async with Store.open(database_url):
            pass
    assert raised.value.required == required_version()
    assert raised.value.current == (required_version() - 1 or None)


async def test_a_changed_migration_is_reported_not_reapplied(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")

    with pytest.raises(MigrationError, match="must never change"):
        await apply_migrations(database_url)


async def test_a_missing_table_is_reported_as_a_schema_to_migrate(database_url: str) -> None:
    async with Store.open(database_url) as store:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("DROP TABLE token_usage")

        with pytest.raises(SchemaTooOld, match=r'"token_usage" does not exist.*migrate'):
            await store.usage.run_total("any-run")


async def test_the_store_opens_from_settings(database_url: str) -> None:
    settings = load_settings({"DATABASE_URL": database_url, "DATABASE_POOL_MAX_SIZE": "2"})

    async with Store.from_settings(settings.database) as store:
        assert await store.runs.list_runs() == []


def test_opening_from_settings_without_a_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: is not set"):
        Store.from_settings(load_settings({}).database)
