"""Approvals of held tool calls: the arguments' digest and the quorum decision.

The digest is ``sha256:`` followed by the lower-case hex SHA-256 of the arguments' canonical JSON:
keys sorted at every level, no whitespace (``","`` and ``":"`` separators), non-ASCII characters
kept as UTF-8 (not ``\\u`` escapes), no NaN or infinities. A person approving with a digest
approves exactly the arguments that were shown to them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mission_control.resources.toolpolicy import Approver

__all__ = [
    "ApprovalEntry",
    "ApprovalOutcome",
    "IgnoredApproval",
    "IgnoredWhy",
    "PendingCall",
    "args_digest",
    "canonical_json",
    "evaluate",
]

IgnoredWhy = Literal[
    "wrong digest", "not an approver", "self-approval", "duplicate approver", "creator unknown"
]


def canonical_json(arguments: Mapping[str, Any]) -> str:
    """The canonical JSON text the digest is computed over."""
    return json.dumps(
        arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def args_digest(arguments: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of :func:`canonical_json` encoded as UTF-8."""
    return "sha256:" + hashlib.sha256(canonical_json(arguments).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PendingCall:
    """The held call a decision must name."""

    tool_call_id: str
    args_digest: str


@dataclass(frozen=True)
class ApprovalEntry:
    """One entry of ``spec.approvals``; ``by`` and ``groups`` are attested by the API server."""

    tool_call_id: str
    decision: Literal["Approve", "Reject"]
    by: str
    groups: tuple[str, ...] = ()
    args_digest: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class IgnoredApproval:
    """An entry for the pending call that did not count, and why (for status and the audit)."""

    entry: ApprovalEntry
    why: IgnoredWhy


@dataclass(frozen=True)
class ApprovalOutcome:
    """``Approved`` once the quorum is reached, ``Rejected`` on any valid Reject, else waiting."""

    state: Literal["Approved", "Rejected", "Waiting"]
    approved_by: tuple[str, ...]
    rejection: ApprovalEntry | None
    ignored: tuple[IgnoredApproval, ...]


def evaluate(
    pending: PendingCall,
    *,
    entries: Sequence[ApprovalEntry],
    approvers: Sequence[Approver],
    required_approvals: int = 1,
    forbid_self_approval: bool = False,
    creator: str | None = None,
) -> ApprovalOutcome:
    """Apply the valid entries for ``pending``; entries for other calls are not looked at.

    ``approvers`` is the namespace policy's list joined with the cluster policies'; empty means
    anyone who may edit the TaskRun. With ``forbid_self_approval`` the creator's approvals do not
    count, and without a recorded creator no approval counts (fail closed); rejections do.
    A valid approver counts once, in the order of ``entries``.
    """
    counted: list[ApprovalEntry] = []
    ignored: list[IgnoredApproval] = []
    rejection: ApprovalEntry | None = None
    for entry in entries:
        if entry.tool_call_id != pending.tool_call_id:
            continue
        why = _invalid(
            entry,
            pending=pending,
            approvers=approvers,
            forbid_self_approval=forbid_self_approval,
            creator=creator,
        )
        if why is None and any(entry.by == other.by for other in counted):
            why = "duplicate approver"
        if why is not None:
            ignored.append(IgnoredApproval(entry=entry, why=why))
            continue
        counted.append(entry)
        if entry.decision == "Reject" and rejection is None:
            rejection = entry
    approved = tuple(entry.by for entry in counted if entry.decision == "Approve")
    if rejection is not None:
        state: Literal["Approved", "Rejected", "Waiting"] = "Rejected"
    elif len(approved) >= required_approvals:
        state = "Approved"
    else:
        state = "Waiting"
    return ApprovalOutcome(
        state=state, approved_by=approved, rejection=rejection, ignored=tuple(ignored)
    )


def _invalid(
    entry: ApprovalEntry,
    *,
    pending: PendingCall,
    approvers: Sequence[Approver],
    forbid_self_approval: bool,
    creator: str | None,
) -> IgnoredWhy | None:
    if entry.args_digest is not None and entry.args_digest != pending.args_digest:
        return "wrong digest"
    if approvers and not any(_is(entry, approver) for approver in approvers):
        return "not an approver"
    # Four-eyes limits approving; the creator may still reject (it only narrows what runs).
    if forbid_self_approval and entry.decision == "Approve":
        if creator is None:
            return "creator unknown"
        if entry.by == creator:
            return "self-approval"
    return None


def _is(entry: ApprovalEntry, approver: Approver) -> bool:
    if approver.kind == "User":
        return entry.by == approver.name
    return approver.name in entry.groups
