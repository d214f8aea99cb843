"""Small builders of OpenAPI v3 schema pieces, CEL rules and CRD objects. Pure data."""

from __future__ import annotations

from typing import Any

from mission_control.resources.schemas.patterns import (
    DNS_SUBDOMAIN,
    GROUP,
    MAX_FALLBACKS,
    NO_SPACE,
    USER_NAME_MAX,
    VERSION,
    Schema,
)

__all__ = [
    "array_schema",
    "cel_rule",
    "condition_path",
    "conditions_schema",
    "crd_object",
    "immutable_rule",
    "int_schema",
    "model_ref_schema",
    "object_schema",
    "printer_column",
    "service_account_schema",
    "string_schema",
    "user_name_schema",
]


def string_schema(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def int_schema(description: str, **extra: Any) -> Schema:
    return {"type": "integer", "format": "int64", "description": description, **extra}


def object_schema(
    description: str, properties: Schema, *, required: list[str] | None = None, **extra: Any
) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def array_schema(description: str, items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "description": description, "items": items, **extra}


def cel_rule(rule: str, message: str, **extra: str) -> Schema:
    return {"rule": rule, "message": message, **extra}


def immutable_rule(field: str) -> Schema:
    # On the spec, not on the field: a rule on the field itself only runs when the old and the
    # new object both have it, so removing dryRun or serviceAccountName (or swapping taskRef
    # for taskSpec) would slip through.
    return cel_rule(
        f"has(self.{field}) == has(oldSelf.{field})"
        f" && (!has(self.{field}) || self.{field} == oldSelf.{field})",
        f"spec.{field} is immutable once the run exists: it cannot be set, changed or "
        "removed; create a new TaskRun instead",
        fieldPath=f".{field}",
    )


def user_name_schema(description: str, *, what: str = "your user name") -> Schema:
    return string_schema(
        description,
        minLength=1,
        maxLength=USER_NAME_MAX,
        **{
            "x-kubernetes-validations": [
                cel_rule(
                    "self == self.trim()",
                    f"must be {what} exactly, without leading or trailing spaces"
                    " (kubectl auth whoami prints yours)",
                )
            ]
        },
    )


def conditions_schema(description: str) -> Schema:
    condition = object_schema(
        "A condition in the Kubernetes API conventions.",
        {
            "type": string_schema("Condition type, e.g. Succeeded or Ready.", maxLength=316),
            "status": string_schema("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": string_schema("One CamelCase word saying why.", maxLength=1024),
            "message": string_schema("What happened, in words a user can act on.", maxLength=32768),
            "lastTransitionTime": string_schema("When status last changed.", format="date-time"),
            "observedGeneration": int_schema(
                "The .metadata.generation this was set for.", minimum=0
            ),
        },
        required=["type", "status"],
    )
    return array_schema(
        description,
        condition,
        **{
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "maxItems": 16,
        },
    )


def _model_name_schema() -> Schema:
    return string_schema(
        "Model name as the provider knows it, e.g. llama3.1 or gemini-2.0-flash (no spaces).",
        minLength=1,
        maxLength=200,
        **{
            "x-kubernetes-validations": [
                cel_rule(
                    f"self.matches(r'{NO_SPACE}')",
                    "a model name has no spaces, e.g. llama3.1 or gemini-2.0-flash",
                )
            ]
        },
    )


def _provider_schema() -> Schema:
    return string_schema("LLM provider.", enum=["ollama", "gemini", "anthropic"])


def model_ref_schema(description: str) -> Schema:
    fallback = object_schema(
        "A model tried when the ones before it are out (rate limit exhausted, server error, "
        "timeout, unreachable, model not pulled); never on a rejected request.",
        {"provider": _provider_schema(), "name": _model_name_schema()},
        required=["provider"],
    )
    return object_schema(
        description,
        {
            "provider": _provider_schema(),
            "name": _model_name_schema(),
            "fallbacks": array_schema(
                "Models tried in order when the primary is out (at most "
                f"{MAX_FALLBACKS}); the operator's MC_MODEL_FALLBACKS when empty.",
                fallback,
                maxItems=MAX_FALLBACKS,
            ),
        },
        required=["provider"],
    )


def service_account_schema(description: str) -> Schema:
    return string_schema(description, maxLength=253, pattern=DNS_SUBDOMAIN)


def printer_column(
    name: str, path: str, type_: str = "string", priority: int = 0, description: str = ""
) -> Schema:
    column: Schema = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        column["priority"] = priority
    if description:
        column["description"] = description
    return column


def crd_object(
    *,
    kind: str,
    plural: str,
    short: str,
    description: str,
    properties: Schema,
    columns: list[Schema],
    scope: str = "Namespaced",
) -> Schema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["missioncontrol"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "properties": {
                                "apiVersion": string_schema("API version of this object."),
                                "kind": string_schema("Kind of this object."),
                                "metadata": {"type": "object"},
                                **properties,
                            },
                            "required": ["spec"],
                        }
                    },
                }
            ],
        },
    }


def condition_path(type_: str, field: str) -> str:
    return f'.status.conditions[?(@.type=="{type_}")].{field}'
