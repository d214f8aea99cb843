"""The audit log: append-only in the database, hash-chained, verifiable."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import psycopg
import pytest

from mission_control.store import AuditEntry, Store
from mission_control.store.audit_chain import GENESIS_HASH, canonical_form, entry_hash
from tests.store.helpers import create_run

pytestmark = pytest.mark.postgres


async def append(store: Store, n: int, **details: object) -> AuditEntry:
    return await store.audit.append(
        actor="alice",
        actor_kind="user",
        action="approve",
        target="ops/crashloops-1 tc-3",
        decision="Approve",
        outcome="applied",
        namespace="ops",
        details={"n": n, **details},
    )


async def superuser_sql(url: str, *statements: str) -> None:
    """Tamper as a superuser would: with the append-only triggers switched off."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        for statement in statements:
            await conn.execute(statement.encode())
        await conn.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")


async def test_each_entry_links_to_the_one_before(store: Store) -> None:
    run = await create_run(store)
    first = await append(store, 1)
    second = await store.audit.append(
        actor="mission-control",
        actor_kind="operator",
        action="tool.denied",
        target="delete_k8s_pod",
        run_uid=run.uid,
        details={"float": 1e20, "text": "ünï", "z": 1, "a": [1.5, None]},
    )

    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    stored = await store.audit.entries()
    assert stored == [first, second]
    assert [entry_hash(e) for e in stored] == [first.hash, second.hash]
    assert [e.id for e in await store.audit.entries(run_uid=run.uid)] == [second.id]


async def test_an_empty_or_intact_chain_verifies(store: Store) -> None:
    empty = await store.audit.verify()
    for n in range(5):
        await append(store, n)

    intact = await store.audit.verify()

    assert (empty.ok, empty.checked) == (True, 0)
    assert (intact.ok, intact.checked, intact.first_broken_id) == (True, 5, None)


async def test_concurrent_writers_build_one_unbroken_chain(database_url: str) -> None:
    async with (
        Store.open(database_url, max_size=4) as one,
        Store.open(database_url, max_size=4) as two,
    ):
        await asyncio.gather(*(append(one if n % 2 else two, n) for n in range(40)))
        result = await one.audit.verify()
        entries = await one.audit.entries(limit=100)

    assert (result.ok, result.checked) == (True, 40)
    assert len({e.prev_hash for e in entries}) == 40  # no two entries claim the same parent


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET outcome = 'forged'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "UPDATE audit_entries SET outcome = 'x' WHERE false",
    ],
)
async def test_the_database_rejects_changes_to_audit_rows(store: Store, statement: str) -> None:
    await append(store, 1)

    async with await psycopg.AsyncConnection.connect(store.db.url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            await conn.execute(statement.encode())

    assert (await store.audit.verify()).checked == 1


async def test_verify_points_at_a_row_altered_by_a_superuser(store: Store) -> None:
    entries = [await append(store, n) for n in range(4)]
    victim = entries[2]

    await superuser_sql(
        store.db.url, f"UPDATE audit_entries SET outcome = 'forged' WHERE id = {victim.id}"
    )
    result = await store.audit.verify()

    assert (result.ok, result.first_broken_id) == (False, victim.id)
    assert "does not match its content" in result.what_differs


async def test_verify_points_past_a_row_removed_by_a_superuser(store: Store) -> None:
    entries = [await append(store, n) for n in range(4)]

    await superuser_sql(store.db.url, f"DELETE FROM audit_entries WHERE id = {entries[1].id}")
    result = await store.audit.verify()

    assert result.first_broken_id == entries[2].id
    assert f"hash of entry {entries[0].id}" in result.what_differs


async def test_verify_notices_a_rehashed_row_by_the_broken_link_after_it(store: Store) -> None:
    entries = [await append(store, n) for n in range(3)]
    forged = dataclasses.replace(entries[1], outcome="forged")
    forged_hash = entry_hash(forged)

    await superuser_sql(
        store.db.url,
        f"UPDATE audit_entries SET outcome = 'forged', hash = '{forged_hash}' "
        f"WHERE id = {forged.id}",
    )
    result = await store.audit.verify()

    assert result.first_broken_id == entries[2].id


def test_the_canonical_form_is_sorted_compact_json_in_utc() -> None:
    entry = AuditEntry(
        id=7,
        actor="alice",
        actor_kind="user",
        action="approve",
        target="t",
        decision="",
        outcome="",
        run_uid=None,
        namespace="ops",
        details={"b": 1, "a": "é"},
        created_at=dt.datetime(2025, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        prev_hash=GENESIS_HASH,
        hash="",
    )

    assert (
        canonical_form(entry)
        == (
            '{"action":"approve","actor":"alice","actor_kind":"user",'
            '"created_at":"2025-01-02T03:04:05.000000+00:00","decision":"",'
            '"details":{"a":"é","b":1},"id":7,"namespace":"ops","outcome":"",'
            f'"prev_hash":"{GENESIS_HASH}","run_uid":null,"target":"t"}}'
        ).encode()
    )
