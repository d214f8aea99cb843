"""What the handlers need, built once by the composition root (:mod:`mission_control.wiring`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from mission_control.agent import AgentServices
from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.handlers.notices import Notifier
from mission_control.runs.readiness import Capabilities
from mission_control.runs.resolve import DEFAULT_SERVICE_ACCOUNT
from mission_control.store import Store
from mission_control.triggers.service import TriggerService

__all__ = ["OperatorServices", "utc_now"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class OperatorServices:
    """The operator's shared services.

    ``objects`` reads and patches our custom objects and posts Events with the operator's own
    identity; ``agent`` is what every run shares; ``capabilities`` is what the configuration can
    serve (tools, providers), which Tasks are judged against; ``max_concurrent_runs`` bounds the
    runs driven at once (the others wait with reason ``Queued``); ``notifier`` sends the
    notifications of runs' transitions (None: none are sent).
    """

    objects: MissionControlObjects
    agent: AgentServices
    capabilities: Capabilities
    default_service_account: str = DEFAULT_SERVICE_ACCOUNT
    max_concurrent_runs: int = 20
    clock: Callable[[], dt.datetime] = field(default=utc_now)
    #: Shared with the Alertmanager receiver (one lock per trigger).
    triggers: TriggerService
    notifier: Notifier | None = None

    def trigger_service(self) -> TriggerService:
        """The TaskTriggers' service, shared with the Alertmanager receiver."""
        return self.triggers

    @property
    def store(self) -> Store:
        return self.agent.store
