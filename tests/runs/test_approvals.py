"""Approvals of a held call: digest, approvers by user or attested group, quorum, four-eyes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mission_control.resources.toolpolicy import Approver
from mission_control.runs.approvals import (
    ApprovalEntry,
    PendingCall,
    args_digest,
    canonical_json,
    evaluate,
)

ARGS = {"namespace": "media", "name": "web-0"}
DIGEST = args_digest(ARGS)
PENDING = PendingCall(tool_call_id="tc-3", args_digest=DIGEST)
ALICE = Approver(kind="User", name="alice")
SRE = Approver(kind="Group", name="sre")


def approve(by: str, **changes: Any) -> ApprovalEntry:
    values: dict[str, Any] = {"tool_call_id": "tc-3", "decision": "Approve", "by": by}
    values.update(changes)
    return ApprovalEntry(**values)


def reject(by: str, **changes: Any) -> ApprovalEntry:
    return approve(by, decision="Reject", message="not now", **changes)


# (id, entries, approvers, required, forbid self, creator, state, approved by, ignored whys)
ApprovalCase = tuple[
    str, list[ApprovalEntry], list[Approver], int, bool, str | None, str, tuple[str, ...], list[str]
]
CASES: list[ApprovalCase] = [
    ("no entries: waiting", [], [], 1, False, None, "Waiting", (), []),
    ("match, anyone may approve", [approve("bob")], [], 1, False, None, "Approved", ("bob",), []),
    ("match with the digest", [approve("bob", args_digest=DIGEST)], [], 1, False, None,
     "Approved", ("bob",), []),
    ("an entry for another call is not looked at", [approve("bob", tool_call_id="tc-2")], [],
     1, False, None, "Waiting", (), []),
    ("wrong digest is ignored", [approve("bob", args_digest="sha256:" + "0" * 64)], [], 1, False,
     None, "Waiting", (), ["wrong digest"]),
    ("listed user approves", [approve("alice")], [ALICE], 1, False, None, "Approved",
     ("alice",), []),
    ("unlisted user is not an approver", [approve("bob")], [ALICE], 1, False, None, "Waiting",
     (), ["not an approver"]),
    ("approver by attested group", [approve("carol", groups=("dev", "sre"))], [ALICE, SRE], 1,
     False, None, "Approved", ("carol",), []),
    ("a user named like the group is not in it", [approve("sre")], [SRE], 1, False, None,
     "Waiting", (), ["not an approver"]),
    ("quorum 2 with one approver", [approve("alice")], [], 2, False, None, "Waiting",
     ("alice",), []),
    ("quorum 2 with two approvers", [approve("alice"), approve("bob")], [], 2, False, None,
     "Approved", ("alice", "bob"), []),
    ("quorum 2 with the same approver twice", [approve("alice"), approve("alice")], [], 2,
     False, None, "Waiting", ("alice",), ["duplicate approver"]),
    ("self-approval forbidden", [approve("dana")], [], 1, True, "dana", "Waiting", (),
     ["self-approval"]),
    ("four-eyes: someone else approves", [approve("dana"), approve("erin")], [], 1, True,
     "dana", "Approved", ("erin",), ["self-approval"]),
    ("four-eyes without a recorded creator fails closed", [approve("erin")], [], 1, True, None,
     "Waiting", (), ["creator unknown"]),
    ("four-eyes: the creator may still reject", [reject("dana")], [], 1, True, "dana",
     "Rejected", (), []),
    ("a reject from an approver rejects", [reject("alice")], [ALICE], 1, False, None,
     "Rejected", (), []),
    ("a reject beats a reached quorum", [approve("alice"), reject("bob")], [], 1, False, None,
     "Rejected", ("alice",), []),
    ("a reject from a non-approver is ignored", [approve("alice"), reject("bob")], [ALICE], 1,
     False, None, "Approved", ("alice",), ["not an approver"]),
    ("a reject with a wrong digest is ignored", [reject("alice", args_digest="sha256:" + "1" * 64)],
     [], 1, False, None, "Waiting", (), ["wrong digest"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("entries", "approvers", "required", "forbid_self", "creator", "state", "by", "whys"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_approval_table(
    entries: list[ApprovalEntry],
    approvers: list[Approver],
    required: int,
    forbid_self: bool,
    creator: str | None,
    state: str,
    by: tuple[str, ...],
    whys: list[str],
) -> None:
    outcome = evaluate(
        PENDING,
        entries=entries,
        approvers=approvers,
        required_approvals=required,
        forbid_self_approval=forbid_self,
        creator=creator,
    )

    assert (outcome.state, outcome.approved_by) == (state, by)
    assert [item.why for item in outcome.ignored] == whys


def test_a_rejection_carries_the_entry_with_its_message() -> None:
    outcome = evaluate(PENDING, entries=[reject("alice")], approvers=[])

    assert outcome.rejection == reject("alice")


def test_the_digest_is_sha256_of_the_canonical_json() -> None:
    arguments = {"name": "wéb", "namespace": "media", "opts": {"b": 1, "a": [1, 2]}}

    assert (
        canonical_json(arguments) == '{"name":"wéb","namespace":"media","opts":{"a":[1,2],"b":1}}'
    )
    assert args_digest({"b": 1}) == (
        "sha256:eb8ed3ccb5023093b56f490a46501e88d09736687e609fdbc1c71b3df8b9ccd3"
    )


def test_non_finite_numbers_have_no_digest() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        args_digest({"replicas": float("nan")})


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text()
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6))
def test_the_digest_does_not_depend_on_key_order(arguments: dict[str, Any]) -> None:
    reordered = dict(reversed(list(arguments.items())))

    assert args_digest(reordered) == args_digest(arguments)
    assert args_digest(arguments).startswith("sha256:")
    assert len(args_digest(arguments)) == 71
