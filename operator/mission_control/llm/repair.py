"""Recovering tool calls that a model wrote as JSON text instead of calling the tool.

Small local models often answer ``{"name": "list_k8s_pods", "arguments": {...}}`` as text,
sometimes inside a Markdown code fence or ``<tool_call>`` tags. :func:`repair_tool_calls`
turns such text into tool calls marked ``repaired=True`` — but only when it is unambiguous:
every tool-call-shaped JSON value in the text names an offered tool and has an arguments
object. Anything else leaves the response untouched (it is then a plain answer). Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mission_control.llm.messages import (
    FinishReason,
    LLMResponse,
    ToolCall,
    ToolDefinition,
    new_tool_call_id,
)

__all__ = ["repair_tool_calls"]

_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_WRAPPERS = re.compile(r"```[a-zA-Z]*\s*```|<tool_call>\s*</tool_call>", re.DOTALL)


def repair_tool_calls(response: LLMResponse, *, tools: Sequence[ToolDefinition]) -> LLMResponse:
    """``response`` with tool calls recovered from its text, when that is unambiguous."""
    if response.tool_calls or not tools or "{" not in response.text:
        return response
    known = {tool.name for tool in tools}
    calls: list[ToolCall] = []
    spans: list[tuple[int, int]] = []
    for start, end, value in _json_values(response.text):
        shaped = [_as_call(item) for item in (value if isinstance(value, list) else [value])]
        if not any(shape is not None for shape in shaped):
            continue  # JSON that is not a tool call (data the model quotes): leave it alone
        for shape in shaped:
            if shape is None or shape[0] not in known or shape[1] is None:
                return response  # half a tool call, or an unknown tool: ambiguous
            calls.append(
                ToolCall(id=new_tool_call_id(), name=shape[0], arguments=shape[1], repaired=True)
            )
        spans.append((start, end))
    if not calls:
        return response
    text = response.text
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    text = _WRAPPERS.sub("", text).strip()
    return response.model_copy(
        update={"text": text, "tool_calls": tuple(calls), "finish_reason": FinishReason.TOOL_CALLS}
    )


def _json_values(text: str) -> Iterator[tuple[int, int, Any]]:
    """Top-level JSON objects and arrays in ``text``, with their spans."""
    decoder = json.JSONDecoder()
    index = 0
    while index < len(text):
        if text[index] in "{[":
            try:
                value, end = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                index += 1
                continue
            if isinstance(value, (dict, list)):
                yield index, end, value
            index = end
        else:
            index += 1


def _as_call(value: Any) -> tuple[str, dict[str, Any] | None] | None:
    """(name, arguments or None if unreadable) when ``value`` is shaped like a tool call."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("function"), Mapping):  # {"type": "function", "function": {...}}
        value = value["function"]
    name = value.get("name")
    keys = [key for key in _ARGUMENT_KEYS if key in value]
    if not isinstance(name, str) or len(keys) != 1:
        return None
    arguments = value[keys[0]]
    if isinstance(arguments, str):  # some models encode the arguments object as a string
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return name, None
    return name, (dict(arguments) if isinstance(arguments, Mapping) else None)
