"""The connection pool every store query goes through, with errors translated on the way out."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import unquote

import psycopg
from psycopg.abc import Params
from psycopg.abc import QueryNoTemplate as Query
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow, class_row
from psycopg.types.json import set_json_dumps
from psycopg_pool import AsyncConnectionPool

from mission_control.errors import ConfigError, first_line
from mission_control.store.errors import JournalUnavailable, StoreError
from mission_control.store.json_values import dumps
from mission_control.store.translate import translate_errors

__all__ = ["Connection", "Database", "check_database_url"]

T = TypeVar("T")
Connection = psycopg.AsyncConnection[TupleRow]

# The transaction the current task is in (see ``Database.transaction``), with its database.
_in_transaction: ContextVar[tuple[Database, Connection] | None] = ContextVar(
    "mission_control_store_transaction", default=None
)


class Database:
    """A pool of autocommit connections to one PostgreSQL database.

    Connections are checked before they are handed out, so after PostgreSQL restarts the dead
    ones are replaced instead of failing the next query; the check costs a round trip only for
    a connection on which the server sent something while it sat idle (see
    :func:`_check_idle_connection`). Waiting for a connection is bounded by
    ``wait_timeout``; past it the caller gets
    :class:`~mission_control.store.errors.JournalUnavailable`.
    """

    def __init__(self, *, pool: AsyncConnectionPool[Connection], url: str) -> None:
        self._pool = pool
        self.url = url

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        wait_timeout: float = 10.0,
    ) -> AsyncIterator[Database]:
        """Open a pool, waiting up to ``wait_timeout`` for its first connection; close it after.

        A malformed URL is a ``ConfigError``; an unreachable server is ``JournalUnavailable``
        with the reason libpq gave.
        """
        check_database_url(url)
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=wait_timeout,
            kwargs={"autocommit": True},
            check=_check_idle_connection,
            configure=_configure,
            # Keep trying to reconnect for as long as the operator lives; an outage must end in
            # recovery, not in a pool that gave up.
            reconnect_timeout=365 * 24 * 3600.0,
            open=False,
            name="mission-control-store",
        )
        try:
            try:
                with translate_errors("connect to PostgreSQL"):
                    await pool.open(wait=True, timeout=wait_timeout)
            except JournalUnavailable:
                # libpq's connect_timeout is whole seconds, at least 2.
                await _explain_connect_failure(url=url, seconds=max(2, round(wait_timeout)))
                raise
            yield cls(pool=pool, url=url)
        finally:
            await pool.close()

    @asynccontextmanager
    async def connection(self, *, action: str) -> AsyncIterator[Connection]:
        """A pooled connection; psycopg errors raised in the block become store errors.

        Inside :meth:`transaction` it is that transaction's connection, so every store call
        made in the block joins the transaction.
        """
        with translate_errors(action):
            joined = _in_transaction.get()
            if joined is not None and joined[0] is self:
                yield joined[1]
                return
            async with self._pool.connection() as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self, *, action: str) -> AsyncIterator[Connection]:
        """One transaction that every store call in the block (in this task) joins.

        Several writes then cost one commit instead of one each: all of them are stored, or
        none. Nested use joins the outer transaction rather than opening a savepoint. Tasks
        started inside the block must not use the store (they would share the connection).
        """
        joined = _in_transaction.get()
        if joined is not None and joined[0] is self:
            yield joined[1]
            return
        with translate_errors(action):
            async with self._pool.connection() as conn, conn.transaction():
                token = _in_transaction.set((self, conn))
                try:
                    yield conn
                finally:
                    _in_transaction.reset(token)

    async def fetch_one(
        self, *, row: type[T], query: Query, params: Params | None = None, action: str
    ) -> T | None:
        """Run ``query`` and map its first row (if any) onto ``row``."""
        async with self.connection(action=action) as conn:
            cursor = conn.cursor(row_factory=class_row(row))
            await cursor.execute(query, params)
            return await cursor.fetchone()

    async def fetch_returned(
        self, *, row: type[T], query: Query, params: Params | None = None, action: str
    ) -> T:
        """Run a statement that always returns one row (``INSERT ... RETURNING``) and map it."""
        found = await self.fetch_one(row=row, query=query, params=params, action=action)
        if found is None:
            raise StoreError(f"could not {action}: the database returned no row")
        return found

    async def fetch_all(
        self, *, row: type[T], query: Query, params: Params | None = None, action: str
    ) -> list[T]:
        """Run ``query`` and map every row onto ``row``."""
        async with self.connection(action=action) as conn:
            cursor = conn.cursor(row_factory=class_row(row))
            await cursor.execute(query, params)
            return await cursor.fetchall()

    async def fetch_value(self, *, query: Query, params: Params | None = None, action: str) -> Any:
        """Run ``query`` and return the first column of its first row (None without rows)."""
        async with self.connection(action=action) as conn:
            cursor = await conn.execute(query, params)
            found = await cursor.fetchone()
            return None if found is None else found[0]

    async def execute(self, *, query: Query, params: Params | None = None, action: str) -> int:
        """Run a statement that returns no rows; return how many rows it touched."""
        async with self.connection(action=action) as conn:
            cursor = await conn.execute(query, params)
            return cursor.rowcount

    async def execute_many(
        self, *, query: Query, params_seq: Sequence[Params], action: str
    ) -> None:
        """Run ``query`` once per parameter set, in one transaction."""
        async with self.transaction(action=action) as conn:
            cursor = conn.cursor()
            await cursor.executemany(query, params_seq)


async def _configure(conn: Connection) -> None:
    # Every jsonb parameter of this connection goes through the store's one JSON seam.
    set_json_dumps(dumps, conn)


async def _check_idle_connection(conn: Connection) -> None:
    """Raise unless ``conn`` looks usable; a round trip only when the server spoke meanwhile.

    An idle autocommit connection of the pool receives nothing: a server that shuts down or
    terminates the backend sends its notice and closes the socket, which makes the socket
    readable. Only then is the full check (an empty query) paid; a round trip for every
    checkout cost several percent of the operator's CPU per step. A connection broken without
    a word (a network partition) fails on use instead, which the callers retry as they retry
    any ``JournalUnavailable``.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


async def _explain_connect_failure(*, url: str, seconds: int) -> None:
    """Raise why PostgreSQL cannot be reached; the pool itself only reports a timeout."""
    with translate_errors("connect to PostgreSQL"):
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=seconds)
        await conn.close()


def check_database_url(url: str) -> None:
    """Raise ``ConfigError`` naming ``DATABASE_URL`` unless libpq can parse ``url``.

    libpq quotes the offending part of the URL in its message, so the password is masked there
    and the original exception is not chained.
    """
    try:
        conninfo_to_dict(url)
    except psycopg.Error as exc:
        reason = _mask_password(first_line(exc), url=url)
        # ``from None``: the original message, which may quote the password, must not reach a
        # traceback either.
        raise ConfigError(
            f"DATABASE_URL: is not a valid PostgreSQL URL ({reason}); "
            "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE with special characters "
            "percent-encoded"
        ) from None


def _mask_password(text: str, *, url: str) -> str:
    secrets = {url}
    # Parsed by hand: the URL is malformed, so a URL parser may refuse it.
    _, found, rest = url.partition("://")
    if found and "@" in rest:
        userinfo = rest.rpartition("@")[0]
        password = userinfo.partition(":")[2]
        if password:
            secrets |= {password, unquote(password)}
    for word in url.split():
        key, equals, value = word.partition("=")
        if equals and key.strip().lower() == "password" and value:
            secrets |= {value, value.strip("'")}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
