"""The audit chain checked against, and anchored by, its checkpoint in Kubernetes.

The store verifies the chain (:meth:`~mission_control.store.audit.Audit.verify`); the
connector keeps the checkpoint (:mod:`~mission_control.connectors.audit_checkpoint`). This
module joins the two for ``mission-control audit verify|checkpoint``, and for the operator,
which calls :func:`checkpoint_audit_chain` every so many entries and at shutdown.
"""

from __future__ import annotations

from mission_control.connectors.audit_checkpoint import AuditCheckpoint, AuditCheckpoints
from mission_control.store import ChainHead, Store, VerifyResult

__all__ = ["checkpoint_audit_chain", "verify_audit_chain"]


def _head(checkpoint: AuditCheckpoint | None) -> ChainHead | None:
    return (
        None
        if checkpoint is None
        else ChainHead(entry_id=checkpoint.entry_id, hash=checkpoint.hash)
    )


async def verify_audit_chain(
    store: Store, checkpoints: AuditCheckpoints | None
) -> tuple[VerifyResult, AuditCheckpoint | None]:
    """Walk the chain, compared with the recorded checkpoint when there is one."""
    recorded = None if checkpoints is None else await checkpoints.read()
    return await store.audit.verify(checkpoint=_head(recorded)), recorded


async def checkpoint_audit_chain(store: Store, checkpoints: AuditCheckpoints) -> VerifyResult:
    """Verify the chain against the last checkpoint, then record its head as the new one.

    A chain that fails verification is not checkpointed: that would bless the damage.
    """
    result, _ = await verify_audit_chain(store, checkpoints)
    if result.ok and result.head is not None:
        await checkpoints.write(entry_id=result.head.entry_id, hash=result.head.hash)
    return result
