"""What the run loop needs from whoever starts it: a place to report, and a live view of the run.

The handlers implement both over the TaskRun object (kopf's live body, the status subresource,
the Events API); tests implement them over plain lists. The loop never reads or writes
Kubernetes objects itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mission_control.llm.provider import ChatProvider
from mission_control.runs.approvals import ApprovalEntry
from mission_control.settings import Provider

__all__ = ["ProviderSource", "RunControl", "RunReporter"]


class ProviderSource(Protocol):
    """The configured LLM providers (:class:`mission_control.llm.Providers` is one)."""

    def get(self, name: Provider | None = None) -> ChatProvider:
        """The provider ``name`` (None: the default); ``ProviderNotConfigured`` naming the
        setting when it is not configured."""
        ...


class RunReporter(Protocol):
    """Writes what the run shows: its status subresource and its Events."""

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        """Apply a JSON merge patch to the TaskRun's ``status`` (keys are status fields)."""
        ...

    async def post_event(self, *, reason: str, message: str, warning: bool = False) -> None:
        """Post one Event about the TaskRun (``Normal``, or ``Warning`` when ``warning``)."""
        ...


class RunControl(Protocol):
    """The TaskRun as it is now: how people steer the run while it goes."""

    def approvals(self) -> Sequence[ApprovalEntry]:
        """The current ``spec.approvals``.

        See :func:`mission_control.runs.resolve.approval_entries`.
        """
        ...

    def cancelled(self) -> bool:
        """Whether ``spec.status`` is ``Cancelled``."""
        ...

    def cancelled_by(self) -> str:
        """Who cancelled the run and why, as words for the end message (e.g. ``by
        kubectl-patch: maintenance window``); empty when nothing is known."""
        ...

    async def wait_for_change(self) -> None:
        """Return when the object's spec changed (the loop bounds the wait with a timeout).

        Woken by the handler's watch of the object; it must not poll the API server. A change
        that happened since the last call returns at once, so none is missed between a check
        of :meth:`approvals` and the wait.
        """
        ...
