"""Recovering tool calls that a model wrote as JSON text instead of calling the tool.

Small local models often answer ``{"name": "list_k8s_pods", "arguments": {...}}`` as text,
sometimes inside a Markdown code fence or ``<tool_call>`` tags. :func:`repair_tool_calls`
turns such text into tool calls marked ``repaired=True`` — but only when it is unambiguous:
the answer consists of nothing but tool-call-shaped JSON (and such wrappers), and every call
names an offered tool. Prose around the JSON means the model is explaining or quoting, not
calling: the response is left untouched (it is then a plain answer), as it is for a tool that
was not offered. A call of an offered tool whose arguments are not a JSON object keeps its
name and gets ``arguments_error``, so the run loop can tell the model what to fix. Pure.

Repair never raises: text it cannot read (nesting deep enough to exhaust the recursion limit,
integers longer than Python converts, anything else) is simply "no repair". Text longer than
:data:`MAX_REPAIR_CHARS` is not scanned at all.
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

__all__ = ["MAX_REPAIR_CHARS", "repair_tool_calls"]

#: Longer answers are not scanned for tool calls: a tool call is a few hundred characters, and
#: the scan retries at every ``{`` or ``[`` that does not start valid JSON.
MAX_REPAIR_CHARS = 64 * 1024

_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_WRAPPERS = re.compile(
    r"```[a-zA-Z]*\s*```|<tool_call>\s*</tool_call>|<\|python_tag\|>|<\|eom_id\|>", re.DOTALL
)
#: What :func:`_as_call` returns for a tool call: the name, and the arguments or why not.
_Shape = tuple[str, dict[str, Any] | str]


def repair_tool_calls(response: LLMResponse, *, tools: Sequence[ToolDefinition]) -> LLMResponse:
    """``response`` with tool calls recovered from its text, when that is unambiguous.

    Never raises: any failure while reading the text means "no repair".
    """
    if response.tool_calls or not tools or "{" not in response.text:
        return response
    if len(response.text) > MAX_REPAIR_CHARS:
        return response
    try:
        return _repair(response, tools=tools)
    except Exception:  # RecursionError, int-size ValueError, ...: the text is not a call
        return response


def _repair(response: LLMResponse, *, tools: Sequence[ToolDefinition]) -> LLMResponse:
    known = {tool.name for tool in tools}
    calls: list[ToolCall] = []
    spans: list[tuple[int, int]] = []
    for start, end, value in _json_values(response.text):
        shaped = [_as_call(item) for item in (value if isinstance(value, list) else [value])]
        if not all(shape is not None and shape[0] in known for shape in shaped):
            return response  # data, half a tool call, or a tool not offered: not a call
        calls.extend(_tool_call(shape) for shape in shaped if shape is not None)
        spans.append((start, end))
    text = response.text
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    if not calls or _WRAPPERS.sub("", text).strip():
        return response  # prose around the JSON: an explanation or a quote, not a call
    return response.model_copy(
        update={"text": "", "tool_calls": tuple(calls), "finish_reason": FinishReason.TOOL_CALLS}
    )


def _tool_call(shape: _Shape) -> ToolCall:
    name, arguments = shape
    if isinstance(arguments, str):
        return ToolCall(id=new_tool_call_id(), name=name, arguments_error=arguments, repaired=True)
    return ToolCall(id=new_tool_call_id(), name=name, arguments=arguments, repaired=True)


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


def _as_call(value: Any) -> _Shape | None:
    """(name, arguments or why they are unreadable) when ``value`` is shaped like a tool call."""
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
        except json.JSONDecodeError as exc:
            return name, f"the arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(arguments, Mapping):
        return name, f"the arguments must be a JSON object, not {_json_kind(arguments)}"
    return name, dict(arguments)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"
