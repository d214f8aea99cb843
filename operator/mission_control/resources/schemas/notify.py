"""The schema of ``notify`` on ToolPolicy and ClusterToolPolicy: a Secret key with Apprise URLs."""

from __future__ import annotations

from mission_control.resources.notify import NOTIFY_TRANSITIONS
from mission_control.resources.schemas.parts import array_schema, object_schema, string_schema
from mission_control.resources.schemas.patterns import DNS_LABEL, DNS_SUBDOMAIN, SECRET_KEY, Schema

__all__ = ["cluster_notify_schema", "notify_schema"]


def _secret_ref(description: str, *, namespaced: bool) -> Schema:
    properties: Schema = {
        "name": string_schema("Name of the Secret.", maxLength=253, pattern=DNS_SUBDOMAIN),
        "key": string_schema(
            "Key holding Apprise URLs, one per line (# starts a comment).",
            minLength=1,
            maxLength=253,
            pattern=SECRET_KEY,
        ),
    }
    required = ["name", "key"]
    if namespaced:
        properties["namespace"] = string_schema(
            "Namespace of the Secret.", maxLength=63, pattern=DNS_LABEL
        )
        required.append("namespace")
    return object_schema(description, properties, required=required)


def notify_schema() -> Schema:
    return object_schema(
        "Notifications of this namespace's runs through Apprise (ntfy, Slack, Matrix, email...). "
        "The Secret is read as the run's agent ServiceAccount, never by the operator: grant it "
        "get on that Secret.",
        {
            "secretRef": _secret_ref(
                "A Secret of this namespace holding the receivers' URLs.", namespaced=False
            ),
            "on": array_schema(
                "Transitions that send a message; default: every one but Succeeded.",
                string_schema(
                    "A reason of the Succeeded condition.", enum=list(NOTIFY_TRANSITIONS)
                ),
                minItems=1,
                maxItems=len(NOTIFY_TRANSITIONS),
                **{"x-kubernetes-list-type": "set"},
            ),
        },
        required=["secretRef"],
    )


def cluster_notify_schema() -> Schema:
    return object_schema(
        "Cluster-wide receivers of every held DESTRUCTIVE call. The Secret is read as the agent "
        "ServiceAccount of its namespace, never by the operator.",
        {
            "secretRef": _secret_ref(
                "A Secret holding the receivers' Apprise URLs.", namespaced=True
            ),
        },
        required=["secretRef"],
    )
