"""The audit chain's anchor outside PostgreSQL: its head, kept in a ConfigMap.

The ConfigMap (``mission-control-audit-checkpoint`` in the operator's namespace by default)
holds ``entryId`` and ``hash`` of the newest checkpointed audit entry. Someone who can rewrite
or truncate the database cannot move it too without also holding Kubernetes rights in that
namespace. A checkpoint only moves forward: writing an older entry than the one recorded is
refused, so a truncated database cannot erase the evidence by checkpointing itself.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mission_control.connectors.errors import (
    ConnectorNotConfigured,
    ConnectorNotFound,
    ConnectorRequestError,
)
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes.errors import Operation
from mission_control.settings import AuditSettings

__all__ = ["SERVICE_ACCOUNT_NAMESPACE", "AuditCheckpoint", "AuditCheckpoints"]

#: Where a pod finds its own namespace.
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_MANAGED_BY = {"app.kubernetes.io/managed-by": "mission-control"}


@dataclass(frozen=True, kw_only=True)
class AuditCheckpoint:
    """The chain head as recorded in Kubernetes."""

    entry_id: int
    hash: str
    updated_at: str = ""


class AuditCheckpoints:
    """Reads and advances the checkpoint ConfigMap through the Kubernetes connector."""

    def __init__(self, kubernetes: KubernetesConnector, *, namespace: str, name: str) -> None:
        self._kubernetes = kubernetes
        self.namespace = namespace
        self.name = name

    @classmethod
    def from_settings(
        cls,
        kubernetes: KubernetesConnector,
        settings: AuditSettings,
        *,
        service_account_namespace: Path = SERVICE_ACCOUNT_NAMESPACE,
    ) -> AuditCheckpoints:
        """The ConfigMap named by the settings, in the operator's namespace by default."""
        namespace = settings.checkpoint_namespace
        if namespace is None:
            try:
                namespace = service_account_namespace.read_text().strip()
            except OSError:
                raise ConnectorNotConfigured(
                    "MC_AUDIT_CHECKPOINT_NAMESPACE: is not set and the operator does not run "
                    "in a pod (no service account namespace to default to)"
                ) from None
        return cls(kubernetes, namespace=namespace, name=settings.checkpoint_name)

    @property
    def where(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    def _op(self, verb: str, *, named: bool = True) -> Operation:
        return Operation(
            verb=verb,
            resource="configmaps",
            kind="ConfigMap",
            namespace=self.namespace,
            name=self.name if named else None,
        )

    async def read(self) -> AuditCheckpoint | None:
        """The recorded checkpoint, or None when none was ever written."""
        found = await self._read_raw()
        return None if found is None else self._parse(found)

    async def write(self, *, entry_id: int, hash: str, now: dt.datetime | None = None) -> None:
        """Record a new head; refuse one older than the recorded checkpoint."""
        if entry_id < 1 or not _HASH.match(hash):
            raise ValueError(f"not a chain head: entry {entry_id}, hash {hash[:16]!r}")
        data = {
            "entryId": str(entry_id),
            "hash": hash,
            "updatedAt": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        }
        found = await self._read_raw()
        if found is None:
            # A plain dict: the client sends it as it is.
            body: Any = {"metadata": {"name": self.name, "labels": _MANAGED_BY}, "data": data}
            await self._kubernetes._fetch(  # the connector's own request path
                lambda apis, o: apis.core.create_namespaced_config_map(self.namespace, body, **o),
                op=self._op("create", named=False),
                impersonate=None,
            )
            return
        recorded = self._parse(found)
        if entry_id < recorded.entry_id:
            raise ConnectorRequestError(
                f"audit checkpoint in {self.where} names entry {recorded.entry_id}, newer than "
                f"the chain head {entry_id}: the database lost entries; refusing to move the "
                "checkpoint back"
            )
        # resourceVersion: a concurrent writer makes this fail (409) instead of being undone.
        metadata = found.get("metadata", {})
        body = {
            "metadata": {
                "name": self.name,
                "labels": {**(metadata.get("labels") or {}), **_MANAGED_BY},
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "data": data,
        }
        await self._kubernetes._fetch(
            lambda apis, o: apis.core.replace_namespaced_config_map(
                self.name, self.namespace, body, **o
            ),
            op=self._op("update"),
            impersonate=None,
        )

    async def _read_raw(self) -> dict[str, Any] | None:
        try:
            raw = await self._kubernetes._fetch(
                lambda apis, o: apis.core.read_namespaced_config_map(
                    self.name, self.namespace, **o
                ),
                op=self._op("get"),
                impersonate=None,
            )
        except ConnectorNotFound:
            return None
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise ConnectorRequestError(f"unreadable answer for {self.where}: {exc}") from None
        if not isinstance(parsed, dict):
            raise ConnectorRequestError(f"unreadable answer for {self.where}: not an object")
        return parsed

    def _parse(self, found: dict[str, Any]) -> AuditCheckpoint:
        data = found.get("data") or {}
        entry_id, hash = str(data.get("entryId", "")), str(data.get("hash", ""))
        if not entry_id.isdigit() or not _HASH.match(hash):
            raise ConnectorRequestError(
                f"audit checkpoint in {self.where} is malformed (entryId {entry_id[:20]!r}, "
                f"hash {hash[:20]!r}): restore it or delete it to start anew"
            )
        return AuditCheckpoint(
            entry_id=int(entry_id), hash=hash, updated_at=str(data.get("updatedAt", ""))
        )
