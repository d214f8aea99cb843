"""The schema of a ClusterToolPolicy: grants (namespace selector, tools, applications), rules
that namespaces cannot relax, and approvers added to every namespace's."""

from __future__ import annotations

from mission_control.resources.schemas.notify import cluster_notify_schema
from mission_control.resources.schemas.parts import (
    array_schema,
    cel_rule,
    object_schema,
    string_schema,
)
from mission_control.resources.schemas.patterns import (
    LABEL_KEY,
    LABEL_VALUE,
    SELECTOR_OPERATORS,
    Schema,
)
from mission_control.resources.schemas.toolpolicy import (
    app_globs_schema,
    approvers_schema,
    policy_status_schema,
    rules_schema,
    tool_globs_schema,
)

__all__ = ["clustertoolpolicy_properties", "namespace_selector_schema"]


def _label_key(description: str) -> Schema:
    return string_schema(description, minLength=1, maxLength=317, pattern=LABEL_KEY)


def _label_value(description: str) -> Schema:
    return string_schema(description, maxLength=63, pattern=LABEL_VALUE)


def namespace_selector_schema(description: str) -> Schema:
    """A Kubernetes label selector (``matchLabels``, ``matchExpressions``) over namespaces."""
    requirement = object_schema(
        "A label requirement: key, operator and values.",
        {
            "key": _label_key("The label key."),
            "operator": string_schema(
                "In, NotIn, Exists or DoesNotExist.", enum=SELECTOR_OPERATORS
            ),
            "values": array_schema(
                "Values for In and NotIn (at least one); empty for Exists and DoesNotExist.",
                _label_value("A label value."),
                maxItems=64,
            ),
        },
        required=["key", "operator"],
        **{
            "x-kubernetes-validations": [
                cel_rule(
                    "(self.operator in ['In', 'NotIn']) == (has(self.values) && "
                    "size(self.values) > 0)",
                    "In and NotIn need at least one value; Exists and DoesNotExist take none",
                )
            ]
        },
    )
    return object_schema(
        description,
        {
            "matchLabels": {
                "type": "object",
                "description": "Labels a namespace must carry, key: value.",
                "additionalProperties": _label_value("The label value."),
                "maxProperties": 32,
                "x-kubernetes-validations": [
                    cel_rule(
                        f"self.all(key, key.matches(r'{LABEL_KEY}') && size(key) <= 317)",
                        "label keys are an optional DNS-subdomain prefix and '/', then a name "
                        "of letters, digits, '-', '_' and '.'",
                    )
                ],
            },
            "matchExpressions": array_schema(
                "Requirements a namespace's labels must all meet.", requirement, maxItems=32
            ),
        },
    )


def clustertoolpolicy_properties() -> Schema:
    grant = object_schema(
        "Namespaces selected may use the tools (at most; their own ToolPolicy can narrow it).",
        {
            "namespaces": namespace_selector_schema(
                "Which namespaces: a label selector as in Kubernetes; {} selects every namespace."
            ),
            "tools": tool_globs_schema(
                "Tool name globs granted, e.g. list_proxmox_* or restart_proxmox_lxc."
            ),
            "targetApplications": app_globs_schema(
                "Argo CD application name globs those namespaces' runs may touch; default: all."
            ),
        },
        required=["namespaces", "tools"],
    )
    spec = object_schema(
        "The ceiling for every namespace: which namespaces may use which tools (Kubernetes "
        "tools need no grant), the least strict action for matching tools, and approvers "
        "added everywhere.",
        {
            "grants": array_schema(
                "Grants; a tool granted by any grant of any ClusterToolPolicy is granted.",
                grant,
                maxItems=100,
            ),
            "rules": rules_schema(
                "Rules whose action is the least strict a namespace may get for matching "
                "tools; with several matches the strictest wins."
            ),
            "approvers": approvers_schema(
                "Users and groups added to every namespace's approvers for held calls."
            ),
            "notify": cluster_notify_schema(),
        },
    )
    return {"spec": spec, "status": policy_status_schema()}
