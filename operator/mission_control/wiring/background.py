"""The operator's background work: the inventory refresher and the audit chain's checkpoints.

Both run as asyncio tasks for as long as the operator's services are open (see
:func:`mission_control.wiring.operator.operator_services`), and report to the metrics.

- The refresher collects every inventory source every ``MC_INVENTORY_REFRESH_SECONDS`` and
  upserts the merged snapshot through the store. A failing source keeps its last good rows,
  marked stale, and is tried again at the next tick while the others keep refreshing.
- The checkpointer records the audit chain's head in Kubernetes once ``MC_AUDIT_CHECKPOINT_EVERY``
  entries were added since the last checkpoint (looked at every few seconds), and once more
  when the operator stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from mission_control.connectors.audit_checkpoint import AuditCheckpoints
from mission_control.errors import MissionControlError
from mission_control.inventory import Inventory
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics
from mission_control.wiring.audit_anchor import checkpoint_audit_chain
from mission_control.wiring.inventory_records import snapshot_for_store

__all__ = ["AuditCheckpointer", "InventoryRefresher", "background"]

log = logging.getLogger(__name__)

#: How often the checkpointer looks at the chain head (a one-row query).
CHECKPOINT_POLL_SECONDS = 5.0


@dataclass(kw_only=True)
class InventoryRefresher:
    """Refreshes the inventory into the store every ``interval`` seconds."""

    inventory: Inventory
    store: Store
    metrics: OperatorMetrics
    interval: float

    async def refresh_once(self) -> None:
        """One refresh: collect, upsert, count; a store failure waits for the next tick."""
        snapshot = await self.inventory.refresh()
        for source in snapshot.sources:
            self.metrics.inventory_refreshed(source=source.source, ok=not source.stale)
        try:
            await self.store.inventory.upsert_snapshot(
                snapshot_for_store(snapshot), seen_at=snapshot.generated_at
            )
        except MissionControlError as exc:
            log.warning("the inventory was not stored, trying at the next refresh: %s", exc)

    async def run(self) -> None:
        while True:
            try:
                await self.refresh_once()
            except Exception:  # a defect must not end the refreshes for the operator's life
                log.exception("the inventory refresh failed")
            await asyncio.sleep(self.interval)


@dataclass(kw_only=True)
class AuditCheckpointer:
    """Checkpoints the audit chain's head every ``every`` entries and at the end."""

    store: Store
    checkpoints: AuditCheckpoints
    metrics: OperatorMetrics
    every: int
    poll_seconds: float = CHECKPOINT_POLL_SECONDS
    _checkpointed: int | None = None

    async def checkpoint(self) -> None:
        """Verify the chain and record its head (a damaged chain is reported, not blessed)."""
        try:
            result = await checkpoint_audit_chain(self.store, self.checkpoints)
        except MissionControlError as exc:
            self.metrics.audit_checkpointed(outcome="failed")
            log.warning("the audit chain was not checkpointed: %s", exc)
            return
        if not result.ok:
            self.metrics.audit_checkpointed(outcome="damaged")
            log.error(
                "the audit chain is damaged at entry %s (%s); not checkpointed",
                result.first_broken_id,
                result.what_differs,
            )
            return
        self.metrics.audit_checkpointed(outcome="ok")
        self._checkpointed = result.head.entry_id if result.head else 0

    async def due(self) -> bool:
        """Whether ``every`` entries were added since the last checkpoint."""
        head = await self.store.audit.head()
        if head is None:
            return False
        if self._checkpointed is None:
            recorded = await self.checkpoints.read()
            self._checkpointed = recorded.entry_id if recorded else 0
        return head.entry_id - self._checkpointed >= self.every

    async def run(self) -> None:
        while True:
            try:
                if await self.due():
                    await self.checkpoint()
            except MissionControlError as exc:
                log.warning("cannot look at the audit chain head: %s", exc)
            await asyncio.sleep(self.poll_seconds)


@asynccontextmanager
async def background(
    *, refresher: InventoryRefresher | None, checkpointer: AuditCheckpointer | None
) -> AsyncIterator[None]:
    """Run the refresher and the checkpointer meanwhile; checkpoint once more at the end."""
    tasks = []
    if refresher is not None:
        tasks.append(asyncio.create_task(refresher.run(), name="inventory refresher"))
    if checkpointer is not None:
        tasks.append(asyncio.create_task(checkpointer.run(), name="audit checkpointer"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        if checkpointer is not None:
            await checkpointer.checkpoint()
