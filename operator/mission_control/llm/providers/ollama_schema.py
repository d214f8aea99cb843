"""Tool schemas for Ollama.

Ollama's tool schema carries, per property, only ``type``, ``items``, ``description`` and
``enum`` (the client library drops anything else). :func:`ollama_parameters` therefore
lowers a JSON schema to that shape on purpose: ``$ref`` is inlined, ``Optional`` unions
collapse to their type, and constraints (minimum, pattern, default, nested fields) are
written into the description so the model still learns them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ollama_parameters"]

_HINTS = {
    "minimum": "minimum {}",
    "maximum": "maximum {}",
    "exclusiveMinimum": "greater than {}",
    "exclusiveMaximum": "less than {}",
    "minLength": "at least {} characters",
    "maxLength": "at most {} characters",
    "pattern": "matching {}",
    "format": "format {}",
    "minItems": "at least {} items",
    "maxItems": "at most {} items",
    "default": "default {}",
}


def ollama_parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object schema lowered to what Ollama's tool format can carry."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    properties = {
        name: _lower(_resolve(prop, defs), defs)
        for name, prop in schema.get("properties", {}).items()
    }
    lowered: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        lowered["required"] = list(schema["required"])
    return lowered


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with a top-level ``$ref`` into ``$defs`` replaced by its target."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = dict(defs.get(ref.removeprefix("#/$defs/"), {}))
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return dict(schema)


def _inline(value: Any, defs: Mapping[str, Any]) -> Any:
    """``value`` with every ``$ref`` inlined (for ``items``, which Ollama passes through)."""
    if isinstance(value, Mapping):
        resolved = _resolve(value, defs)
        return {key: _inline(item, defs) for key, item in resolved.items()}
    if isinstance(value, list):
        return [_inline(item, defs) for item in value]
    return value


def _lower(prop: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    variants = prop.get("anyOf") or prop.get("oneOf")
    if variants:
        options = [_resolve(option, defs) for option in variants]
        concrete = [option for option in options if option.get("type") != "null"]
        rest = {key: value for key, value in prop.items() if key not in ("anyOf", "oneOf")}
        if len(concrete) == 1:
            prop = {**concrete[0], **rest}
        else:
            prop = {**rest, "type": [option.get("type", "string") for option in concrete]}
    lowered: dict[str, Any] = {}
    if "type" in prop:
        lowered["type"] = prop["type"]
    if "enum" in prop:
        lowered["enum"] = list(prop["enum"])
    elif "const" in prop:
        lowered["enum"] = [prop["const"]]
    if "items" in prop:
        lowered["items"] = _inline(prop["items"], defs)
    hints = [
        template.format(json.dumps(prop[key])) for key, template in _HINTS.items() if key in prop
    ]
    if prop.get("type") == "object" and "properties" in prop:
        fields = ", ".join(
            f"{name} ({_resolve(sub, defs).get('type', 'any')})"
            for name, sub in prop["properties"].items()
        )
        hints.append(f"an object with fields {fields}")
    description = str(prop.get("description", ""))
    if hints:
        description = f"{description} ({'; '.join(hints)})".strip()
    if description:
        lowered["description"] = description
    return lowered
