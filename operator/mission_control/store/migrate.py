"""Versioned schema migrations: application and the start-up schema check.

The migrations are the files :mod:`.schema` finds in ``store/migrations``. Each one is applied
in its own transaction together with its row in ``schema_migrations`` (version, name, checksum,
time), so a failed migration leaves no trace. A session-level advisory lock serialises
concurrent ``migrate`` runs: the second waits, then finds nothing left to do.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

from mission_control.store.database import check_database_url
from mission_control.store.errors import MigrationError, SchemaTooOld
from mission_control.store.roles import grant_roles
from mission_control.store.schema import Migration, required_version, shipped_migrations
from mission_control.store.translate import translate_errors

__all__ = ["apply_migrations", "check_schema"]

# Arbitrary constant shared by every migrating process ("mcmigrat" in ASCII).
_MIGRATION_LOCK_KEY = 0x6D636D6967726174

_CREATE_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(
    database_url: str, *, app_role: str | None = None, readonly_role: str | None = None
) -> list[Migration]:
    """Bring the database at ``database_url`` up to date; return the migrations applied now.

    Run it as the role that owns the schema. With ``app_role`` and ``readonly_role``, those
    roles get exactly their rights afterwards (:mod:`~mission_control.store.roles`).
    """
    check_database_url(database_url)
    with translate_errors("apply migrations"):
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
            try:
                applied = await _apply_pending(conn)
                await grant_roles(conn, app_role=app_role, readonly_role=readonly_role)
                return applied
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))


async def _apply_pending(conn: psycopg.AsyncConnection[TupleRow]) -> list[Migration]:
    await conn.execute(_CREATE_BOOKKEEPING)
    cursor = await conn.execute("SELECT version, checksum FROM schema_migrations")
    applied: dict[int, str] = dict(await cursor.fetchall())
    shipped = shipped_migrations()
    for migration in shipped:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} differs from the one "
                "applied to this database; migrations must never change once released"
            )
    done: list[Migration] = []
    for migration in shipped:
        if migration.version in applied:
            continue
        async with conn.transaction():
            # Bytes, not str: the file is trusted SQL shipped with the package, and psycopg
            # sends a parameterless multi-statement script as-is.
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        done.append(migration)
    return done


async def check_schema(conn: psycopg.AsyncConnection[TupleRow]) -> int:
    """Return the database's schema version; raise :class:`SchemaTooOld` if it is behind."""
    required = required_version()
    with translate_errors("check the schema version"):
        cursor = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = await cursor.fetchone()
        if row is None or not row[0]:
            raise SchemaTooOld(current=None, required=required)
        cursor = await conn.execute("SELECT max(version) FROM schema_migrations")
        row = await cursor.fetchone()
    current: int | None = None if row is None else row[0]
    if current is None or current < required:
        raise SchemaTooOld(current=current, required=required)
    return current
