"""The living inventory: refreshes every source, keeps last good data, merges a snapshot.

Sources are collected concurrently, each under its own time bound. A source that fails keeps
its previous observations, marked stale, with the error; the others still refresh. The
metadata file is re-read when it changes; a broken edit keeps the last good metadata (the
start-up load, in contrast, fails loudly).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mission_control.connectors import Connectors
from mission_control.errors import ConfigError, MissionControlError
from mission_control.inventory.merge import merge
from mission_control.inventory.metadata import InventoryMetadata, load_metadata
from mission_control.inventory.model import InventorySnapshot, SourceState
from mission_control.inventory.sources import Collected, InventorySource, sources_of

__all__ = ["Inventory"]

log = logging.getLogger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Inventory:
    """Hosts, workloads and services from every configured source, merged with metadata."""

    def __init__(
        self,
        *,
        sources: Sequence[InventorySource],
        metadata_file: Path | None = None,
        refresh_seconds: float = 60.0,
        source_timeout_seconds: float = 30.0,
    ) -> None:
        self._sources = tuple(sources)
        self._states = {source.name: SourceState(source=source.name) for source in self._sources}
        self._metadata_file = metadata_file
        self._metadata = load_metadata(metadata_file)
        self._metadata_stamp = self._stamp()
        self.refresh_seconds = refresh_seconds
        self._source_timeout = source_timeout_seconds
        self._snapshot: InventorySnapshot | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_connectors(
        cls, connectors: Connectors, *, metadata_file: Path | None, refresh_seconds: float
    ) -> Inventory | None:
        """An inventory over the configured connectors; None when there is no source at all."""
        sources = sources_of(
            kubernetes=connectors.kubernetes,
            proxmox=connectors.proxmox,
            argocd=connectors.argocd,
            prometheus=connectors.prometheus,
        )
        if not sources:
            return None
        return cls(sources=sources, metadata_file=metadata_file, refresh_seconds=refresh_seconds)

    @property
    def snapshot(self) -> InventorySnapshot | None:
        """The latest merged snapshot, or None before the first refresh."""
        return self._snapshot

    def _fresh(self) -> InventorySnapshot | None:
        snapshot = self._snapshot
        if snapshot is None:
            return None
        age = (_utcnow() - snapshot.generated_at).total_seconds()
        return snapshot if age < self.refresh_seconds else None

    async def current(self) -> InventorySnapshot:
        """The latest snapshot, refreshed first when missing or older than the refresh period.

        Callers that find it stale at the same time share one refresh: whoever waited for the
        lock takes the snapshot the refresh before it just made.
        """
        if (snapshot := self._fresh()) is not None:
            return snapshot
        async with self._lock:
            if (snapshot := self._fresh()) is not None:
                return snapshot
            return await self._refresh_locked()

    async def refresh(self) -> InventorySnapshot:
        """Collect every source now and merge; never raises for a failing source."""
        async with self._lock:
            return await self._refresh_locked()

    async def _refresh_locked(self) -> InventorySnapshot:
        self._reload_metadata()
        attempt = _utcnow()
        outcomes = await asyncio.gather(*(self._collect(s) for s in self._sources))
        for source, outcome in zip(self._sources, outcomes, strict=True):
            previous = self._states[source.name]
            if isinstance(outcome, Collected):
                self._states[source.name] = SourceState(
                    source=source.name,
                    observations=outcome.observations,
                    enrichments=outcome.enrichments,
                    last_success=attempt,
                    last_attempt=attempt,
                )
            else:
                self._states[source.name] = replace(previous, last_attempt=attempt, error=outcome)
        self._snapshot = merge(
            states=list(self._states.values()), metadata=self._metadata, now=_utcnow()
        )
        return self._snapshot

    async def _collect(self, source: InventorySource) -> Collected | str:
        """The collection, or the error message that says why it failed."""
        try:
            async with asyncio.timeout(self._source_timeout):
                return await source.collect()
        except TimeoutError:
            message = f"{source.name} did not answer within {self._source_timeout:g}s"
        except MissionControlError as exc:
            message = str(exc)
        except Exception as exc:  # a bug in one source must not stop the others refreshing
            log.exception("inventory source %s failed unexpectedly", source.name)
            message = f"{source.name} failed unexpectedly: {type(exc).__name__}: {exc}"
        log.warning(
            "inventory source %s failed, keeping its last good data: %s", source.name, message
        )
        return message

    def _stamp(self) -> tuple[float, int] | None:
        if self._metadata_file is None:
            return None
        try:
            stat = self._metadata_file.stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def _reload_metadata(self) -> None:
        stamp = self._stamp()
        if stamp == self._metadata_stamp:
            return
        try:
            metadata: InventoryMetadata = load_metadata(self._metadata_file)
        except ConfigError as exc:
            log.error("keeping the previous inventory metadata: %s", exc)
            return
        self._metadata, self._metadata_stamp = metadata, stamp
