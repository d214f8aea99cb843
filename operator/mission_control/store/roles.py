"""Database roles: ``migrate`` (the owner) grants the application and read-only roles their rights.

- The application role (the operator) may read and write the tables it works with, but on
  ``audit_entries`` only INSERT and SELECT: no UPDATE, DELETE or TRUNCATE, and since it owns
  nothing it cannot ``ALTER TABLE ... DISABLE TRIGGER`` either.
- The read-only role (the sidecar) may only SELECT.

Grants are recomputed on every ``migrate`` (revoke everything, grant exactly this), so tables
added by later migrations are covered and rights granted by hand are taken back. The roles
themselves, with their logins and passwords, are created by whoever provisions the database.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from mission_control.store.errors import MigrationError

__all__ = ["grant_roles"]

_AUDIT_TABLE = "audit_entries"
_BOOKKEEPING_TABLE = "schema_migrations"


async def grant_roles(
    conn: psycopg.AsyncConnection[TupleRow],
    *,
    app_role: str | None,
    readonly_role: str | None,
) -> None:
    """Give each named role exactly its rights on the current schema (inside a transaction)."""
    for role in filter(None, (app_role, readonly_role)):
        await _check_role(conn, role)
    async with conn.transaction():
        if app_role:
            await _grant(conn, role=app_role, statements=_APP_GRANTS)
        if readonly_role:
            await _grant(conn, role=readonly_role, statements=_READONLY_GRANTS)


_REVOKE_ALL = (
    "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
    "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM {role}",
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
)
_APP_GRANTS = (
    *_REVOKE_ALL,
    "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {role}",
    "REVOKE INSERT, UPDATE ON {bookkeeping} FROM {role}",
    # The audit log only grows: no UPDATE (and DELETE and TRUNCATE were never granted).
    "REVOKE UPDATE ON {audit} FROM {role}",
    # Identity columns and the audit writer's nextval().
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
)
_READONLY_GRANTS = (
    *_REVOKE_ALL,
    "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
)


async def _grant(
    conn: psycopg.AsyncConnection[TupleRow], *, role: str, statements: tuple[str, ...]
) -> None:
    schema = await _current_schema(conn)
    for statement in statements:
        await conn.execute(
            sql.SQL(statement).format(
                schema=sql.Identifier(schema),
                role=sql.Identifier(role),
                audit=sql.Identifier(schema, _AUDIT_TABLE),
                bookkeeping=sql.Identifier(schema, _BOOKKEEPING_TABLE),
            )
        )


async def _current_schema(conn: psycopg.AsyncConnection[TupleRow]) -> str:
    row = await (await conn.execute("SELECT current_schema()")).fetchone()
    if row is None or row[0] is None:
        raise MigrationError("no current schema to grant rights on (check search_path)")
    return str(row[0])


async def _check_role(conn: psycopg.AsyncConnection[TupleRow], role: str) -> None:
    """Refuse a role that is missing, or that could undo the audit log's protection."""
    cursor = await conn.execute(
        "SELECT r.rolsuper, r.rolbypassrls, r.rolname = current_user, "
        "       EXISTS (SELECT FROM pg_tables WHERE schemaname = current_schema() "
        "               AND tableowner = r.rolname), "
        "       pg_has_role(r.rolname, current_user, 'MEMBER') "
        "FROM pg_roles r WHERE r.rolname = %s",
        (role,),
    )
    row = await cursor.fetchone()
    if row is None:
        raise MigrationError(
            f"role {role!r} does not exist: create it first (CREATE ROLE ... LOGIN PASSWORD ...)"
        )
    superuser, _, is_current, owns_tables, owner_is_member = row
    if superuser:
        raise MigrationError(f"role {role!r} is a superuser: it could bypass every protection")
    if is_current or owns_tables or owner_is_member:
        raise MigrationError(
            f"role {role!r} is (or acts as) the owner of the schema: run `mission-control "
            "migrate` as a separate owner role and give the application another one"
        )
