"""Where a policy sends notifications: the ``notify`` field of ToolPolicy and ClusterToolPolicy.

The Apprise URLs carry tokens, so they live in a Secret; the policy only names it. The operator
never reads Secrets itself: it reads the key acting as the agent ServiceAccount of the Secret's
namespace (see ``docs/architecture.md``, "Notifications").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from mission_control.resources.common import DnsSubdomain, Resource, require_unique
from mission_control.resources.schemas import patterns

__all__ = [
    "NOTIFY_TRANSITIONS",
    "ClusterNotify",
    "ClusterSecretKeyRef",
    "Notify",
    "NotifyTransition",
    "SecretKeyRef",
]

#: The transitions of a run a notification may be sent for.
NotifyTransition = Literal[
    "AwaitingApproval",
    "Succeeded",
    "Failed",
    "Cancelled",
    "TimedOut",
    "LimitExceeded",
    "ApprovalTimedOut",
    "ProviderError",
    "InvalidTask",
    "InvalidParams",
    "Interrupted",
]
NOTIFY_TRANSITIONS: tuple[NotifyTransition, ...] = NotifyTransition.__args__  # type: ignore[attr-defined]

DnsLabel = Annotated[str, Field(max_length=63, pattern=patterns.DNS_LABEL)]
SecretKey = Annotated[str, Field(min_length=1, max_length=253, pattern=patterns.SECRET_KEY)]


class SecretKeyRef(Resource):
    """A key of a Secret in the policy's own namespace: Apprise URLs, one per line."""

    name: DnsSubdomain
    key: SecretKey


class ClusterSecretKeyRef(SecretKeyRef):
    """A key of a Secret in ``namespace`` (a cluster-scoped policy has no namespace of its own)."""

    namespace: DnsLabel


class Notify(Resource):
    """Notifications of a namespace's runs; ``on`` unset means every transition but
    ``Succeeded``."""

    secret_ref: SecretKeyRef
    on: list[NotifyTransition] | None = Field(default=None, min_length=1, max_length=11)

    @field_validator("on")
    @classmethod
    def _unique_transitions(cls, on: list[str] | None) -> list[str] | None:
        require_unique(on or [], what="on")
        return on


class ClusterNotify(Resource):
    """Cluster-wide receivers for every held DESTRUCTIVE call."""

    secret_ref: ClusterSecretKeyRef
