"""Tasks and (Cluster)ToolPolicies: their ``Ready`` condition, and the Task mirror in the store.

Both are judged from scratch on every watch event (kopf's low-level event handlers: no
progress annotations, no diff-base, nothing kopf would add to the objects), by the pure
functions of :mod:`mission_control.runs.readiness`. Status is patched only when the verdict or
the generation it was made for changes, so our own status write (which the watch reports back)
ends the cycle. A ToolPolicy's change re-judges the Tasks that name it: a policy created after
its Task makes the Task Ready without touching it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mission_control.connectors.kubernetes.custom import Plural
from mission_control.errors import MissionControlError
from mission_control.handlers.models import chain_readiness
from mission_control.handlers.services import OperatorServices
from mission_control.resources.clustertoolpolicy import ClusterToolPolicySpec
from mission_control.resources.common import Condition
from mission_control.resources.task import TaskSpec
from mission_control.resources.toolpolicy import ToolPolicySpec
from mission_control.runs.readiness import (
    Readiness,
    policy_readiness,
    ready_condition,
    task_readiness,
)
from mission_control.store import StoreError, TaskSnapshot

__all__ = ["Definitions", "previous_condition"]

log = logging.getLogger(__name__)
_KIND: Mapping[Plural, str] = {
    "tasks": "task",
    "taskruns": "taskrun",
    "toolpolicies": "toolpolicy",
    "clustertoolpolicies": "clustertoolpolicy",
}


def previous_condition(raw: Mapping[str, Any], kind: str) -> Condition | None:
    """The condition of type ``kind`` in a raw object's status, if it parses."""
    for item in (raw.get("status") or {}).get("conditions") or ():
        if isinstance(item, dict) and item.get("type") == kind:
            try:
                return Condition.model_validate(item)
            except ValidationError:
                return None
    return None


def _created_at(metadata: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(metadata["creationTimestamp"]).replace("Z", "+00:00"))


class Definitions:
    """The handlers of Tasks and ToolPolicies (registered by :mod:`.operator`)."""

    def __init__(self, services: OperatorServices) -> None:
        self._services = services
        # (generation, reason) last mirrored per Task uid: a status-only event writes nothing.
        self._mirrored: dict[str, tuple[int, str]] = {}

    # -- Tasks ----------------------------------------------------------------------------

    async def on_task_event(self, *, type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        """A Task was listed, added, changed or deleted."""
        raw = dict(body)
        if type == "DELETED":
            await self._forget_task(raw)
            return
        await self.judge_task(raw)

    async def judge_task(self, raw: Mapping[str, Any]) -> Readiness | None:
        """Set the Task's Ready condition and mirror it; None when its spec does not parse."""
        metadata = raw.get("metadata") or {}
        namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
        generation = int(metadata.get("generation") or 0)
        try:
            spec = TaskSpec.model_validate(raw.get("spec") or {})
        except ValidationError as exc:
            log.warning("task %s/%s does not parse: %s", namespace, name, exc)
            return None
        policy_found: bool | None = None
        if spec.policy_ref is not None:
            found = await self._services.objects.get(
                "toolpolicies", namespace=namespace, name=spec.policy_ref.name
            )
            policy_found = found is not None
        verdict = task_readiness(
            spec, capabilities=self._services.capabilities, policy_found=policy_found
        )
        if verdict.ready:
            verdict = await chain_readiness(spec.model, services=self._services) or verdict
        await self._set_ready(raw, plural="tasks", verdict=verdict, generation=generation)
        await self._mirror_task(raw, generation=generation, reason=verdict.reason)
        return verdict

    async def _mirror_task(self, raw: Mapping[str, Any], *, generation: int, reason: str) -> None:
        metadata = raw["metadata"]
        uid = str(metadata["uid"])
        if self._mirrored.get(uid) == (generation, reason):
            return
        snapshot = TaskSnapshot(
            uid=uid,
            namespace=str(metadata["namespace"]),
            name=str(metadata["name"]),
            generation=generation,
            spec=dict(raw.get("spec") or {}),
            ready_reason=reason,
            created_at=_created_at(metadata),
        )
        try:
            await self._services.store.tasks.upsert_task(snapshot)
        except StoreError as exc:
            # The mirror is history, not control: the next event of the Task writes it again.
            log.warning("task %s/%s not mirrored: %s", snapshot.namespace, snapshot.name, exc)
            return
        self._mirrored[uid] = (generation, reason)

    async def _forget_task(self, raw: Mapping[str, Any]) -> None:
        uid = str((raw.get("metadata") or {}).get("uid"))
        self._mirrored.pop(uid, None)
        try:
            await self._services.store.tasks.mark_deleted(uid, at=self._services.clock())
        except StoreError as exc:
            log.warning("task %s not marked deleted in the store: %s", uid, exc)

    # -- ToolPolicies ---------------------------------------------------------------------

    async def on_policy_event(self, *, type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        """A ToolPolicy was listed, added, changed or deleted: judge it and its Tasks."""
        raw = dict(body)
        metadata = raw.get("metadata") or {}
        namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
        if type != "DELETED":
            await self._judge_policy(raw)
        if type is None:
            return  # the initial listing: every Task is listed (and judged) anyway
        for task in await self._services.objects.list_namespaced("tasks", namespace=namespace):
            if ((task.get("spec") or {}).get("policyRef") or {}).get("name") == name:
                try:
                    await self.judge_task(task)
                except MissionControlError as exc:
                    log.warning("task of policy %s/%s not re-judged: %s", namespace, name, exc)

    async def _judge_policy(self, raw: Mapping[str, Any]) -> None:
        metadata = raw.get("metadata") or {}
        try:
            spec = ToolPolicySpec.model_validate(raw.get("spec") or {})
        except ValidationError as exc:
            log.warning(
                "toolpolicy %s/%s does not parse: %s",
                metadata.get("namespace"),
                metadata.get("name"),
                exc,
            )
            return
        verdict = policy_readiness(
            [rule.tools for rule in spec.rules], tools=self._services.capabilities.tools
        )
        await self._set_ready(
            raw,
            plural="toolpolicies",
            verdict=verdict,
            generation=int(metadata.get("generation") or 0),
        )

    # -- ClusterToolPolicies --------------------------------------------------------------

    async def on_cluster_policy_event(
        self, *, type: str | None, body: Mapping[str, Any], **_: Any
    ) -> None:
        """A ClusterToolPolicy was listed, added or changed: judge its tool globs.

        Its effect on runs needs no re-evaluation here: each run reads the ClusterToolPolicies
        when it starts.
        """
        if type == "DELETED":
            return
        raw = dict(body)
        metadata = raw.get("metadata") or {}
        try:
            spec = ClusterToolPolicySpec.model_validate(raw.get("spec") or {})
        except ValidationError as exc:
            log.warning("clustertoolpolicy %s does not parse: %s", metadata.get("name"), exc)
            return
        globs = [rule.tools for rule in spec.rules] + [grant.tools for grant in spec.grants]
        verdict = policy_readiness(globs, tools=self._services.capabilities.tools)
        await self._set_ready(
            raw,
            plural="clustertoolpolicies",
            verdict=verdict,
            generation=int(metadata.get("generation") or 0),
        )

    # -- status ---------------------------------------------------------------------------

    async def _set_ready(
        self,
        raw: Mapping[str, Any],
        *,
        plural: Plural,
        verdict: Readiness,
        generation: int,
    ) -> None:
        previous = previous_condition(raw, "Ready")
        status = raw.get("status") or {}
        if (
            previous is not None
            and status.get("observedGeneration") == generation
            and previous.observed_generation == generation
            and (previous.status == "True") == verdict.ready
            and previous.reason == verdict.reason
            and previous.message == verdict.message
        ):
            return
        condition = ready_condition(
            verdict, generation=generation, now=self._services.clock(), previous=previous
        )
        metadata = raw["metadata"]
        namespace = metadata.get("namespace")
        await self._services.objects.patch_status(
            plural,
            namespace=None if namespace is None else str(namespace),
            name=str(metadata["name"]),
            patch={"observedGeneration": generation, "conditions": [condition.to_k8s()]},
        )
        log.info(
            "%s %s: Ready=%s %s %s",
            _KIND[plural],
            f"{namespace}/{metadata['name']}" if namespace else metadata["name"],
            "True" if verdict.ready else "False",
            verdict.reason,
            verdict.message,
        )
