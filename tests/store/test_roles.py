"""``migrate`` as the owner gives the application and read-only roles only what they need."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import errors as pgerrors
from psycopg import sql

from mission_control.store import MigrationError, Store, apply_migrations
from tests.store.helpers import create_run
from tests.store.test_cli import run_cli

pytestmark = pytest.mark.postgres

# Every table with one of its columns.
TABLES = {
    "tasks": "uid",
    "task_runs": "uid",
    "task_events": "run_uid",
    "llm_requests": "run_uid",
    "llm_responses": "run_uid",
    "token_usage": "run_uid",
    "tool_definitions": "name",
    "tool_call_records": "run_uid",
    "audit_entries": "id",
    "hosts": "id",
    "workloads": "id",
    "services": "id",
    "notifications_sent": "run_uid",
    "schema_migrations": "version",
}


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))


@dataclass(frozen=True)
class Roles:
    app: str
    readonly: str


@pytest.fixture
async def roles(empty_database_url: str) -> AsyncIterator[Roles]:
    suffix = uuid.uuid4().hex[:8]
    made = Roles(app=f"mc_app_{suffix}", readonly=f"mc_ro_{suffix}")
    async with await psycopg.AsyncConnection.connect(empty_database_url, autocommit=True) as conn:
        for role in (made.app, made.readonly):
            await conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    yield made
    async with await psycopg.AsyncConnection.connect(empty_database_url, autocommit=True) as conn:
        for role in (made.app, made.readonly):
            await conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            await conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
async def granted(empty_database_url: str, roles: Roles) -> str:
    await apply_migrations(empty_database_url, app_role=roles.app, readonly_role=roles.readonly)
    return empty_database_url


async def refused(url: str, statement: str) -> str:
    """Run ``statement``; return the SQLSTATE it was refused with (fail if it was not)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        try:
            await conn.execute(statement.encode())
        except psycopg.Error as exc:
            return str(exc.sqlstate)
    raise AssertionError(f"{statement!r} was allowed")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
        "UPDATE audit_entries SET actor = 'mallory'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "DROP TABLE audit_entries",
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
        "ALTER TABLE audit_entries OWNER TO CURRENT_USER",
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'x', 'x')",
    ],
)
async def test_the_application_role_cannot_undo_the_audit_log(
    granted: str, roles: Roles, statement: str
) -> None:
    state = await refused(as_role(granted, roles.app), statement)

    # 42501: insufficient privilege (not the owner, or not granted).
    assert state == pgerrors.InsufficientPrivilege.sqlstate


async def test_the_application_role_can_do_the_operators_work(granted: str, roles: Roles) -> None:
    async with Store.open(as_role(granted, roles.app)) as store:
        run = await create_run(store)
        await store.journal.append(run_uid=run.uid, type="run.started", payload={})
        await store.tool_calls.record_intent(
            run_uid=run.uid,
            tool_call_id="tc-1",
            tool="list_k8s_pods",
            risk="READ_ONLY",
            arguments={},
            args_digest="sha256:x",
            decision="Allow",
        )
        await store.tool_calls.complete(run_uid=run.uid, tool_call_id="tc-1", output_digest="d")
        await store.audit.append(actor="op", actor_kind="operator", action="a", target="t")
        result = await store.audit.verify()

    assert (result.ok, result.checked) == (True, 1)


async def test_every_table_is_listed(granted: str) -> None:
    async with await psycopg.AsyncConnection.connect(granted, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        assert sorted(row[0] for row in await cursor.fetchall()) == sorted(TABLES)


@pytest.mark.parametrize("table", sorted(TABLES))
async def test_the_read_only_role_cannot_write_anything(
    granted: str, roles: Roles, table: str
) -> None:
    url = as_role(granted, roles.readonly)
    statements = [
        f"INSERT INTO {table} DEFAULT VALUES",
        f"UPDATE {table} SET {TABLES[table]} = {TABLES[table]}",
        f"DELETE FROM {table}",
        f"TRUNCATE {table}",
        f"ALTER TABLE {table} ADD COLUMN x text",
    ]
    states = [await refused(url, statement) for statement in statements]

    assert set(states) == {pgerrors.InsufficientPrivilege.sqlstate}
    async with Store.open(url) as store:  # and it can read, schema check included
        assert await store.runs.list_runs() == []


async def test_migrate_refuses_to_grant_to_the_owner_itself(empty_database_url: str) -> None:
    with pytest.raises(MigrationError, match="superuser"):
        await apply_migrations(empty_database_url, app_role="postgres")


async def test_migrate_refuses_a_role_that_does_not_exist(empty_database_url: str) -> None:
    with pytest.raises(MigrationError, match="role 'nobody_here' does not exist"):
        await apply_migrations(empty_database_url, app_role="nobody_here")


async def test_migrate_grants_from_the_command_line(empty_database_url: str, roles: Roles) -> None:
    result = await run_cli(
        "migrate",
        "--app-role",
        roles.app,
        database_url=empty_database_url,
        DATABASE_READONLY_ROLE=roles.readonly,
    )

    assert result.returncode == 0, result.stderr
    assert f"granted application rights to role {roles.app}" in result.stdout
    assert f"granted read-only rights to role {roles.readonly}" in result.stdout
    async with await psycopg.AsyncConnection.connect(empty_database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = 'audit_entries' AND grantee = %s ORDER BY 1",
            (roles.app,),
        )
        app_rights = [row[0] for row in await cursor.fetchall()]
        cursor = await conn.execute(
            "SELECT DISTINCT privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s",
            (roles.readonly,),
        )
        readonly_rights = [row[0] for row in await cursor.fetchall()]

    assert app_rights == ["INSERT", "SELECT"]
    assert readonly_rights == ["SELECT"]
