"""The audit hash chain, purely computational: canonical form, hashing and checking links.

Each entry's ``hash`` covers the canonical form of all its other fields, including ``id`` and
``prev_hash`` (the previous entry's hash; 64 zeros for the first entry). With a key it is the
HMAC-SHA-256 of that form, without one its SHA-256; hex either way.

The canonical form is the same in any language (README.md has a test vector): a JSON object
with keys sorted by Unicode code point at every level, no whitespace between tokens, UTF-8,
strings escaped only where JSON requires it (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t`` and
``\\u00XX`` for other control characters), ``created_at`` as ISO 8601 in UTC with six
fractional digits and ``+00:00``. The only numbers are integers of at most 53 bits: the writer
stores every other number in ``details`` as a string (:func:`audit_details`), because floats
print differently in every language (``1e-07`` against jsonb's ``0.0000001``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from mission_control.store.audit_key import AuditKey
from mission_control.store.json_values import NON_FINITE
from mission_control.store.records import AuditEntry, ChainHead, VerifyResult

__all__ = [
    "GENESIS_HASH",
    "ChainChecker",
    "NonCanonicalValue",
    "audit_details",
    "canonical_form",
    "entry_hash",
]

GENESIS_HASH = "0" * 64
#: Integers beyond this lose precision in languages whose JSON numbers are doubles.
_SAFE_INTEGER = 2**53 - 1


class NonCanonicalValue(ValueError):
    """An entry holds a value the writer never produces (a float, a huge integer)."""


def audit_details(value: Any) -> Any:
    """``details`` as the writer stores them: every number but a safe integer as a string."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else NON_FINITE[repr(value)]
    if isinstance(value, Mapping):
        return {str(key): audit_details(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [audit_details(item) for item in value]
    return str(value)


def _check_canonical(value: Any) -> None:
    if isinstance(value, float) or (
        isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INTEGER
    ):
        raise NonCanonicalValue(f"the number {value!r} has no canonical form")
    if isinstance(value, Mapping):
        for item in value.values():
            _check_canonical(item)
    elif isinstance(value, list):
        for item in value:
            _check_canonical(item)


def canonical_form(entry: AuditEntry) -> bytes:
    """The bytes the entry's hash covers (every field except ``hash`` itself)."""
    _check_canonical(entry.details)
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


def entry_hash(entry: AuditEntry, key: AuditKey | None = None) -> str:
    """The hash the entry must carry: keyed (HMAC-SHA-256) when there is a key."""
    form = canonical_form(entry)
    return key.sign(form) if key is not None else hashlib.sha256(form).hexdigest()


class ChainChecker:
    """Checks entries fed in chain (id) order; remembers the first broken link.

    With a ``checkpoint`` (the head recorded outside the database), the entry it names must
    still carry its hash, and the chain must not end before it.
    """

    def __init__(self, *, key: AuditKey | None = None, checkpoint: ChainHead | None = None) -> None:
        self._key = key
        self._checkpoint = checkpoint
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
        last = self._previous
        head = None if last is None else ChainHead(entry_id=last.id, hash=last.hash)
        checkpoint = self._checkpoint
        intact = self.first_broken_id is None
        if intact and checkpoint is not None and (last is None or last.id < checkpoint.entry_id):
            ends = "has no entries" if last is None else f"ends at entry {last.id}"
            return VerifyResult(
                checked=self.checked,
                head=head,
                truncated=True,
                what_differs=f"the chain {ends} but the checkpoint names entry "
                f"{checkpoint.entry_id} ({checkpoint.hash[:12]}...): "
                "entries at its tail were deleted",
            )
        return VerifyResult(
            checked=self.checked,
            first_broken_id=self.first_broken_id,
            what_differs=self.what_differs,
            head=head,
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
        checkpoint = self._checkpoint
        if (
            checkpoint is not None
            and (previous is None or previous.id < checkpoint.entry_id)
            and entry.id > checkpoint.entry_id
        ):
            return (
                f"the checkpointed entry {checkpoint.entry_id} is missing from the chain: "
                "it was removed and the entries after it re-hashed"
            )
        try:
            actual = entry_hash(entry, self._key)
        except NonCanonicalValue as exc:
            return f"{exc}: the entry was altered after it was written"
        if entry.hash != actual:
            keyed = " (or the audit key is not the one it was written with)" if self._key else ""
            return (
                f"stored hash {entry.hash[:12]}... does not match its content "
                f"(recomputed {actual[:12]}...): the entry was altered after it was written"
                f"{keyed}"
            )
        if (
            checkpoint is not None
            and entry.id == checkpoint.entry_id
            and entry.hash != (checkpoint.hash)
        ):
            return (
                f"hash {entry.hash[:12]}... differs from the checkpoint's "
                f"({checkpoint.hash[:12]}...): the chain was rewritten up to here"
            )
        return ""
