"""The operator: kopf's registry of our handlers, and running it in-process.

Handlers are registered on a registry of our own (not kopf's global one), bound to the
services the composition root built, so the operator can be started more than once in a
process (tests) and nothing is registered by importing a module.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import kopf

from mission_control.connectors.kubernetes.custom import GROUP, VERSION
from mission_control.handlers.definitions import Definitions
from mission_control.handlers.expiry import FinishedRuns
from mission_control.handlers.footprint import configure_kopf
from mission_control.handlers.services import OperatorServices
from mission_control.handlers.sharding import LabelFilter, with_present
from mission_control.handlers.taskruns import TaskRuns, is_active
from mission_control.handlers.triggers import (
    TOKEN_RECHECK_SECONDS,
    TriggerHandlers,
    is_scheduled,
    is_waiting_for_token,
)
from mission_control.resources.schemas.patterns import TRIGGER_LABEL

__all__ = ["build_registry", "run_operator"]


def build_registry(
    services: OperatorServices, *, selector: LabelFilter | None = None
) -> kopf.OperatorRegistry:
    """Every handler of the operator, bound to ``services``; ``selector`` limits the TaskRuns
    and TaskTriggers served (see :mod:`.sharding`)."""
    registry = kopf.OperatorRegistry()
    labels = selector or None

    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_kopf(settings)

    kopf.on.startup(registry=registry, id="configure")(configure)
    # The kubeconfig of KUBECONFIG, else the pod's service account: as the connectors do.
    kopf.on.login(registry=registry, id="login")(kopf.login_via_client)

    definitions = Definitions(services)
    kopf.on.event(GROUP, VERSION, "tasks", registry=registry, id="task")(definitions.on_task_event)
    kopf.on.event(GROUP, VERSION, "toolpolicies", registry=registry, id="toolpolicy")(
        definitions.on_policy_event
    )

    kopf.on.event(GROUP, VERSION, "clustertoolpolicies", registry=registry, id="clustertoolpolicy")(
        definitions.on_cluster_policy_event
    )

    runs = TaskRuns(services)
    kopf.on.event(GROUP, VERSION, "taskruns", registry=registry, id="taskrun", labels=labels)(
        runs.on_event
    )
    kopf.daemon(
        GROUP,
        VERSION,
        "taskruns",
        registry=registry,
        id="run",
        when=is_active,
        # kopf waits for the daemon to stop by itself (it cancels its loop when told to).
        cancellation_timeout=None,
        labels=labels,
    )(runs.drive)
    _without_finalizer(registry, handler_id="run")

    triggers = TriggerHandlers(services.trigger_service())
    kopf.on.event(
        GROUP, VERSION, "tasktriggers", registry=registry, id="tasktrigger", labels=labels
    )(triggers.on_event)
    kopf.daemon(
        GROUP,
        VERSION,
        "tasktriggers",
        registry=registry,
        id="schedule",
        when=is_scheduled,
        cancellation_timeout=10.0,
        labels=labels,
    )(triggers.schedule)
    kopf.timer(
        GROUP,
        VERSION,
        "tasktriggers",
        registry=registry,
        id="token-recheck",
        interval=TOKEN_RECHECK_SECONDS,
        initial_delay=TOKEN_RECHECK_SECONDS,
        when=is_waiting_for_token,
        labels=labels,
    )(triggers.recheck_token)
    kopf.on.event(
        GROUP,
        VERSION,
        "taskruns",
        registry=registry,
        id="taskrun-trigger",
        # A trigger's runs carry its labels: they match where the trigger does.
        labels=with_present(labels, TRIGGER_LABEL),
    )(triggers.on_run_event)

    finished = FinishedRuns(services)
    kopf.on.event(GROUP, VERSION, "taskruns", registry=registry, id="taskrun-ttl", labels=labels)(
        finished.on_event
    )

    async def stop_expiry(**_: Any) -> None:
        await finished.close()

    kopf.on.cleanup(registry=registry, id="ttl-cleanup")(stop_expiry)
    return registry


def _without_finalizer(registry: kopf.OperatorRegistry, *, handler_id: str) -> None:
    """Let the daemon ``handler_id`` run without kopf's finalizer on the object.

    kopf puts a finalizer on every object with a daemon, so that it can stop the daemon before
    the object goes away: one write to add it and one to remove it, per run. Nothing of ours
    needs the object while it is deleted (the journal stays by design), and the watch stops
    a deleted run's loop itself (:meth:`TaskRuns.on_event`), so the two writes are saved.
    kopf's decorator offers no switch for this; its handler is a frozen dataclass with a
    ``requires_finalizer`` field, replaced here.
    """
    spawning = registry._spawning
    handlers = spawning.get_all_handlers()
    if not any(handler.id == handler_id for handler in handlers):
        raise LookupError(f"no daemon {handler_id!r} is registered")
    spawning._handlers = [
        dataclasses.replace(handler, requires_finalizer=False)
        if handler.id == handler_id
        else handler
        for handler in handlers
    ]


async def run_operator(
    services: OperatorServices,
    *,
    namespaces: Sequence[str],
    clusterwide: bool,
    liveness_endpoint: str | None,
    selector: LabelFilter | None = None,
    peering: str | None = None,
    priority: int = 0,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    """Run kopf until ``stop_flag`` is set or the process is signalled to stop.

    Standalone unless ``peering`` names a kopf peering object (``KopfPeering`` in each
    served namespace, ``ClusterKopfPeering`` with ``clusterwide``): then the operator with
    the highest ``priority`` is active and the others stand by, taking over when its
    heartbeat stops.
    """
    await kopf.operator(
        # kopf makes peering mandatory when it is named: the operator never falls back to
        # standalone (and runs twice) because the peering object is missing.
        registry=build_registry(services, selector=selector),
        standalone=peering is None,
        peering_name=peering,
        priority=priority,
        clusterwide=clusterwide,
        namespaces=list(namespaces),
        liveness_endpoint=liveness_endpoint,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )
