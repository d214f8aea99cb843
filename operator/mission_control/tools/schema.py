"""The JSON schema of a tool's arguments in the compact form offered to models.

pydantic's schema carries what only a Python reader needs: a ``title`` on every model and
field, the model's docstring as a top-level ``description`` (the tool's own description says
it better), and ``anyOf: [X, null]`` with ``default: null`` for each optional field. Every
provider is sent this compact form, which keeps the system prompt and the original eight
tools under 1,500 tokens. Field descriptions, bounds and patterns stay: they guide the model.
What the model sends back is still validated against the full argument model. Pure.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compact_schema"]

#: Keys whose value is a mapping of names to schemas (the names are data, not keywords).
_NAMED_SCHEMAS = ("properties", "$defs", "patternProperties")
#: Keys whose value is a list of schemas, or one schema.
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_ONE_SCHEMA = ("items", "additionalProperties", "not", "contains")
_NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a model's JSON schema) without titles, top-level description, null options."""
    compact: dict[str, Any] = _node(schema)
    compact.pop("description", None)
    return compact


def _node(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _NAMED_SCHEMAS and isinstance(value, dict):
            out[key] = {name: _node(item) for name, item in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_node(item) for item in value]
        elif key in _ONE_SCHEMA:
            out[key] = _node(value)
        else:
            out[key] = value
    return _without_null_option(out)


def _without_null_option(schema: dict[str, Any]) -> dict[str, Any]:
    """``{anyOf: [X, null], default: null, ...}`` -> ``{...X, ...}``: an optional field is one
    the model leaves out; ``required`` already says which ones may be left out."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or _NULL not in options:
        return schema
    if "default" not in schema or schema["default"] is not None:
        return schema
    (other,) = [option for option in options if option != _NULL]
    if not isinstance(other, dict):
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**other, **rest}
