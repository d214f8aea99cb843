"""The compact schema offered to models: no pydantic titles or null options, nothing else lost."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mission_control.tools.registry import ALL_TOOLS, default_registry
from mission_control.tools.schema import compact_schema


class Inner(BaseModel):
    """An inner model."""

    kind: Literal["a", "b"] = "a"


class Sample(BaseModel):
    """Only Python readers need this docstring."""

    title: str = Field(description="A field that happens to be called title.")
    limit: int | None = Field(default=None, ge=1, description="Optional bound.")
    mode: str | None = Field(default="x", description="Null allowed, default not null.")
    inner: Inner | None = None


def test_titles_and_null_options_go_and_everything_else_stays() -> None:
    assert compact_schema(Sample.model_json_schema()) == {
        "$defs": {
            "Inner": {
                "description": "An inner model.",
                "properties": {"kind": {"default": "a", "enum": ["a", "b"], "type": "string"}},
                "type": "object",
            }
        },
        "properties": {
            "title": {"description": "A field that happens to be called title.", "type": "string"},
            "limit": {"description": "Optional bound.", "minimum": 1, "type": "integer"},
            "mode": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": "x",
                "description": "Null allowed, default not null.",
            },
            "inner": {"$ref": "#/$defs/Inner"},
        },
        "required": ["title"],
        "type": "object",
    }


def test_no_tool_offers_a_title_and_each_still_accepts_an_explicit_null() -> None:
    for tool in ALL_TOOLS:
        assert "'title'" not in str(tool.json_schema()), tool.name
    restart = default_registry().get("restart_proxmox_lxc")
    assert restart.parse_arguments({"vmid": 101, "node": None}).node is None


def test_a_tools_schema_is_built_once_and_each_caller_gets_its_own_copy() -> None:
    tool = default_registry().get("list_k8s_pods")
    first = tool.json_schema()
    assert tool.__dict__.get("_schema") == first  # kept on the tool, not rebuilt per request
    first["properties"].clear()
    first["injected"] = True
    again = tool.json_schema()
    assert "injected" not in again
    assert again["properties"]
    assert again == compact_schema(tool.arguments.model_json_schema())
