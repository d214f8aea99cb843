"""The audit hash is reproducible outside Python: README's test vector, and rows re-hashed by
PostgreSQL's own JSON, ``jq`` and ``openssl``."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from mission_control.store import AuditEntry, AuditKey, Store
from mission_control.store.audit_chain import canonical_form, entry_hash

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("jq", "openssl")


def readme_vector() -> tuple[str, str, str]:
    """(key, canonical form, hash) as README.md states them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Audit chain test vector") :]
    key = re.search(r"^key: `([^`]+)`", section, re.MULTILINE)
    digest = re.search(r"^HMAC-SHA-256: `([0-9a-f]{64})`", section, re.MULTILINE)
    canonical = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert key, "README.md lost its audit test vector's key"
    assert digest, "README.md lost its audit test vector's hash"
    assert canonical, "README.md lost its audit test vector's canonical form"
    return key[1], canonical[1], digest[1]


def shell_hmac(document: str, key: str) -> str:
    """Canonicalise any JSON layout with jq and sign it with openssl, as another tool would."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {missing}")
    result = subprocess.run(
        ["sh", "-c", "jq -S -c . | tr -d '\\n' | openssl dgst -sha256 -hmac \"$KEY\" -r"],
        input=document.encode(),
        env={"KEY": key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=30,
    )
    return result.stdout.decode().split()[0]


def test_the_readme_vector_is_what_the_code_computes() -> None:
    key, canonical, digest = readme_vector()
    fields = json.loads(canonical)
    entry = AuditEntry(
        **{**fields, "created_at": dt.datetime.fromisoformat(fields["created_at"]), "hash": ""}
    )

    assert canonical_form(entry) == canonical.encode("utf-8")
    assert entry_hash(entry, AuditKey(key.encode())) == digest


def test_the_readme_vector_is_reproduced_by_a_shell_pipeline() -> None:
    key, canonical, digest = readme_vector()
    # Pretty-printed and reordered first, so jq has to do the canonicalising.
    scrambled = json.dumps(dict(reversed(json.loads(canonical).items())), indent=2)

    assert shell_hmac(scrambled, key) == digest


@pytest.mark.postgres
async def test_a_stored_entry_is_rehashed_from_the_database_alone(database_url: str) -> None:
    secret = "another-tool-can-check-this-chain-key"
    async with Store.open(database_url, audit_key=AuditKey(secret.encode())) as store:
        entry = await store.audit.append(
            actor="mission-control",
            actor_kind="operator",
            action="tool.result",
            target="query_prometheus",
            details={"value": float("nan"), "ratio": 1e-07, "count": 3, "text": 'ünï \\ "q"'},
        )
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        row = await (
            await conn.execute(
                """
                SELECT json_build_object(
                    'id', id, 'actor', actor, 'actor_kind', actor_kind, 'action', action,
                    'target', target, 'decision', decision, 'outcome', outcome,
                    'run_uid', run_uid, 'namespace', namespace, 'details', details,
                    'created_at', to_char(created_at AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                    'prev_hash', prev_hash)::text, hash
                FROM audit_entries WHERE id = %s
                """,
                (entry.id,),
            )
        ).fetchone()
    assert row is not None
    document, stored = row

    assert shell_hmac(document, secret) == stored == entry.hash
