"""The keyed, anchored audit chain: rewrites, re-hashing and a truncated tail are all caught."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from mission_control.errors import ConfigError
from mission_control.settings import AuditSettings
from mission_control.store import AuditEntry, AuditKey, ChainHead, Store
from mission_control.store import require_audit_key as require_key
from mission_control.store.audit_chain import entry_hash

pytestmark = pytest.mark.postgres

KEY = AuditKey(b"k" * 32)


async def append(store: Store, n: int, **details: object) -> AuditEntry:
    return await store.audit.append(
        actor="alice",
        actor_kind="user",
        action="approve",
        target="ops/crashloops-1 tc-3",
        details={"n": n, **details},
    )


async def superuser_sql(url: str, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Tamper as the table's owner can: with the append-only trigger switched off."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        for statement in statements:
            await conn.execute(statement.encode(), params or None)
        await conn.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")


@pytest.fixture
async def keyed(database_url: str) -> AsyncIterator[Store]:
    async with Store.open(database_url, audit_key=KEY) as store:
        yield store


async def test_deleting_the_newest_entries_is_reported_as_a_truncated_tail(store: Store) -> None:
    for n in range(5):
        await append(store, n)
    checkpoint = await store.audit.head()
    assert checkpoint is not None
    await superuser_sql(store.db.url, "DELETE FROM audit_entries WHERE id > 3")

    unanchored = await store.audit.verify()
    anchored = await store.audit.verify(checkpoint=checkpoint)

    assert unanchored.ok  # the chain alone cannot tell: what is left links up
    assert (anchored.ok, anchored.truncated, anchored.checked) == (False, True, 3)
    assert f"ends at entry 3 but the checkpoint names entry {checkpoint.entry_id}" in (
        anchored.what_differs
    )


async def test_rewriting_an_entry_and_rehashing_the_rest_fails_without_the_key(
    keyed: Store,
) -> None:
    entries = [await append(keyed, n) for n in range(4)]
    # An attacker with full database access but no key rewrites entry 2 and re-hashes
    # everything after it, with the unkeyed hash or any key of their own.
    forged: list[AuditEntry] = []
    previous_hash = entries[0].hash
    for original in entries[1:]:
        actor = "mallory" if original.id == entries[1].id else original.actor
        changed = dataclasses.replace(original, actor=actor, prev_hash=previous_hash)
        changed = dataclasses.replace(changed, hash=entry_hash(changed, AuditKey(b"m" * 32)))
        forged.append(changed)
        previous_hash = changed.hash
    await superuser_sql(
        keyed.db.url,
        *(
            f"UPDATE audit_entries SET actor = '{e.actor}', prev_hash = '{e.prev_hash}', "
            f"hash = '{e.hash}' WHERE id = {e.id}"
            for e in forged
        ),
    )

    result = await keyed.audit.verify()

    assert (result.ok, result.first_broken_id) == (False, entries[1].id)
    assert "does not match its content" in result.what_differs


async def test_a_keyed_chain_does_not_verify_without_its_key(keyed: Store) -> None:
    await append(keyed, 1)
    async with Store.open(keyed.db.url) as unkeyed:
        result = await unkeyed.audit.verify()

    assert (result.ok, result.checked) == (False, 1)
    assert (await keyed.audit.verify()).ok


async def test_a_rewrite_up_to_the_checkpoint_is_caught_even_when_rehashed(
    store: Store,
) -> None:
    # Unkeyed: anyone can recompute every hash, but not move the checkpoint.
    entries = [await append(store, n) for n in range(3)]
    checkpoint = ChainHead(entry_id=entries[-1].id, hash=entries[-1].hash)
    previous_hash = entries[0].hash
    statements = []
    for original in entries[1:]:
        changed = dataclasses.replace(original, target="elsewhere", prev_hash=previous_hash)
        changed = dataclasses.replace(changed, hash=entry_hash(changed))
        previous_hash = changed.hash
        statements.append(
            f"UPDATE audit_entries SET target = 'elsewhere', prev_hash = '{changed.prev_hash}', "
            f"hash = '{changed.hash}' WHERE id = {changed.id}"
        )
    await superuser_sql(store.db.url, *statements)

    assert (await store.audit.verify()).ok
    result = await store.audit.verify(checkpoint=checkpoint)
    assert (result.ok, result.first_broken_id) == (False, entries[-1].id)
    assert "differs from the checkpoint" in result.what_differs


async def test_floats_are_stored_as_strings_so_the_hash_is_language_independent(
    keyed: Store,
) -> None:
    entry = await append(keyed, 1, ratio=1e-07, big=2**60, small=-3, nested=[0.5, {"x": 2.0}])

    async with await psycopg.AsyncConnection.connect(keyed.db.url, autocommit=True) as conn:
        row = await (
            await conn.execute("SELECT details::text FROM audit_entries WHERE id = %s", (entry.id,))
        ).fetchone()
    assert row is not None
    assert row[0] == (
        '{"n": 1, "big": "1152921504606846976", "ratio": "1e-07", "small": -3, '
        '"nested": ["0.5", {"x": "2.0"}]}'
    )
    assert (await keyed.audit.verify()).ok


async def test_a_float_planted_in_details_breaks_the_chain(keyed: Store) -> None:
    entry = await append(keyed, 1)
    await superuser_sql(
        keyed.db.url, f"UPDATE audit_entries SET details = '{{\"n\": 1.0}}' WHERE id = {entry.id}"
    )

    result = await keyed.audit.verify()

    assert (result.ok, result.first_broken_id) == (False, entry.id)


def test_without_a_key_file_the_start_is_refused_unless_told_otherwise() -> None:
    with pytest.raises(ConfigError, match=r"^MC_AUDIT_KEY_FILE: is not set.*--audit-key-optional"):
        require_key(AuditSettings(), optional=False)
    assert require_key(AuditSettings(), optional=True) is None


def test_the_key_comes_from_its_file_and_never_prints(tmp_path: Path) -> None:
    secret = "0123456789abcdef0123456789abcdef-secret"
    (tmp_path / "key").write_text(secret + "\n")
    (tmp_path / "short").write_text("too short\n")

    key = require_key(AuditSettings(key_file=tmp_path / "key"), optional=False)

    assert key is not None
    assert key.sign(b"x") == AuditKey(secret.encode()).sign(b"x")
    assert secret not in repr(key) + str(key)
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        require_key(AuditSettings(key_file=tmp_path / "short"), optional=False)
    with pytest.raises(ConfigError, match=r"MC_AUDIT_KEY_FILE: cannot read .*missing"):
        require_key(AuditSettings(key_file=tmp_path / "missing"), optional=True)
