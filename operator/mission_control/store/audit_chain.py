"""The audit hash chain, purely computational: canonical form, hashing and checking links.

Each entry's ``hash`` is the SHA-256 (hex) of the canonical JSON of all its fields, including
``id`` and ``prev_hash`` (the previous entry's hash; 64 zeros for the first entry). Canonical
JSON: keys sorted, no insignificant whitespace, UTF-8, ``created_at`` as ISO 8601 in UTC with
microseconds. Anyone can recompute it from a row without this code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable

from mission_control.store.records import AuditEntry, VerifyResult

__all__ = ["GENESIS_HASH", "ChainChecker", "canonical_form", "entry_hash"]

GENESIS_HASH = "0" * 64


def canonical_form(entry: AuditEntry) -> bytes:
    """The bytes the entry's hash covers (every field except ``hash`` itself)."""
    fields = {
        "id": entry.id,
        "actor": entry.actor,
        "actor_kind": entry.actor_kind,
        "action": entry.action,
        "target": entry.target,
        "decision": entry.decision,
        "outcome": entry.outcome,
        "run_uid": entry.run_uid,
        "namespace": entry.namespace,
        "details": entry.details,
        "created_at": entry.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "prev_hash": entry.prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def entry_hash(entry: AuditEntry) -> str:
    """The hash the entry must carry."""
    return hashlib.sha256(canonical_form(entry)).hexdigest()


class ChainChecker:
    """Checks entries fed in chain (id) order; remembers the first broken link."""

    def __init__(self) -> None:
        self._previous: AuditEntry | None = None
        self.checked = 0
        self.first_broken_id: int | None = None
        self.what_differs = ""

    def feed(self, entries: Iterable[AuditEntry]) -> bool:
        """Check more entries; False once a broken link is found (later entries are ignored)."""
        for entry in entries:
            if self.first_broken_id is not None:
                return False
            problem = self._check(entry)
            self.checked += 1
            if problem:
                self.first_broken_id = entry.id
                self.what_differs = problem
                return False
            self._previous = entry
        return self.first_broken_id is None

    def result(self) -> VerifyResult:
        return VerifyResult(
            checked=self.checked,
            first_broken_id=self.first_broken_id,
            what_differs=self.what_differs,
        )

    def _check(self, entry: AuditEntry) -> str:
        previous = self._previous
        expected_prev = GENESIS_HASH if previous is None else previous.hash
        if entry.prev_hash != expected_prev:
            after = "the start of the chain" if previous is None else f"entry {previous.id}"
            return (
                f"prev_hash {entry.prev_hash[:12]}... does not match the hash of {after} "
                f"({expected_prev[:12]}...): an entry before it was removed, added or altered"
            )
        actual = entry_hash(entry)
        if entry.hash != actual:
            return (
                f"stored hash {entry.hash[:12]}... does not match its content "
                f"(recomputed {actual[:12]}...): the entry was altered after it was written"
            )
        return ""
