"""Inserts keyed by the caller, so that a write retried after a lost acknowledgement lands once.

A write whose commit succeeded but whose reply never arrived (the connection broke) reaches
the caller as :class:`~mission_control.store.errors.JournalUnavailable`; the caller retries with
the same key. :func:`insert_once` then finds the row the first attempt wrote: with the same
content it is returned as if just written, with other content the write is refused
(:class:`~mission_control.store.errors.StoreRejected`) with both versions named.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from mission_control.store.database import Database
from mission_control.store.errors import StoreError, StoreRejected

__all__ = ["insert_once"]

_SHOWN = 80


async def insert_once(
    *,
    db: Database,
    table: str,
    values: Mapping[str, Any],
    key: Sequence[str],
    compared: Sequence[str],
    returning: Sequence[str],
    conflict_where: str = "",
    what: str,
) -> dict[str, Any]:
    """Insert ``values`` unless a row with the same ``key`` columns exists; return the row.

    ``compared`` are the columns a retry must repeat exactly; the others (times, durations)
    may differ between attempts. ``conflict_where`` names the key column of a partial unique
    index (``usage_key``: the index covers rows where it is not null).
    """
    insert, existing = _statements(
        table=table,
        columns=tuple(values),
        key=tuple(key),
        compared=tuple(compared),
        returning=tuple(returning),
        conflict_where=conflict_where,
    )
    async with db.connection(action=f"store {what}") as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(insert, values)
        added = await cursor.fetchone()
        if added is not None:
            return added
        await cursor.execute(existing, values)
        found = await cursor.fetchone()
    if found is None:
        raise StoreError(f"could not store {what}: its key is taken but no row has it")
    differing = [name for name in compared if not found[f"same:{name}"]]
    if differing:
        keyed = ", ".join(f"{name}={values[name]!r}" for name in key)
        stored = "; ".join(f"{name}={_short(found[f'stored:{name}'])}" for name in differing)
        given = "; ".join(f"{name}={_short(values[name])}" for name in differing)
        raise StoreRejected(
            f"{what} with key {keyed} is already stored with other content "
            f"(stored: {stored}; given: {given}); give each write its own key"
        )
    return {name: found[name] for name in returning}


# A handful of shapes (one per table), composed once: composing them was a few percent of the
# operator's CPU per step.
@functools.lru_cache(maxsize=64)
def _statements(
    *,
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    compared: tuple[str, ...],
    returning: tuple[str, ...],
    conflict_where: str,
) -> tuple[sql.Composed, sql.Composed]:
    """The insert and the look-up of the row a first attempt wrote."""
    insert = sql.SQL(
        "INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({key}){where} "
        "DO NOTHING RETURNING {returning}"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(map(sql.Placeholder, columns)),
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        where=sql.SQL(" WHERE {} IS NOT NULL").format(sql.Identifier(conflict_where))
        if conflict_where
        else sql.SQL(""),
        returning=sql.SQL(", ").join(map(sql.Identifier, returning)),
    )
    # A new statement, so a new snapshot: it sees a first attempt that committed while the
    # insert above waited for it.
    existing = sql.SQL("SELECT {returning}, {shown} FROM {table} WHERE {match}").format(
        returning=sql.SQL(", ").join(map(sql.Identifier, returning)),
        shown=sql.SQL(", ").join(
            sql.SQL("{col}::text AS {alias}, {col} IS NOT DISTINCT FROM {value} AS {same}").format(
                col=sql.Identifier(name),
                alias=sql.Identifier(f"stored:{name}"),
                value=sql.Placeholder(name),
                same=sql.Identifier(f"same:{name}"),
            )
            for name in compared
        ),
        table=sql.Identifier(table),
        match=sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in key
        ),
    )
    return insert, existing


def _short(value: Any) -> str:
    text = str(getattr(value, "obj", value))
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
