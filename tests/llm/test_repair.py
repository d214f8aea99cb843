"""Tool calls written as JSON text become tool calls, only when that is unambiguous."""

from __future__ import annotations

import pytest

from mission_control.llm import FinishReason, LLMResponse, ToolCall, ToolDefinition
from mission_control.llm.repair import repair_tool_calls

TOOLS = [
    ToolDefinition(name="list_k8s_pods", description="List pods."),
    ToolDefinition(name="get_k8s_events", description="Events."),
]


def answer(text: str) -> LLMResponse:
    return LLMResponse(provider="ollama", model="llama3.1", text=text)


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "list_k8s_pods", "arguments": {"namespace": "media"}}',
        '```json\n{"name": "list_k8s_pods", "parameters": {"namespace": "media"}}\n```',
        '<tool_call>{"name": "list_k8s_pods", '
        '"arguments": "{\\"namespace\\": \\"media\\"}"}</tool_call>',
        '{"type": "function", '
        '"function": {"name": "list_k8s_pods", "arguments": {"namespace": "media"}}}',
    ],
)
def test_a_call_written_as_text_becomes_a_repaired_tool_call(text: str) -> None:
    repaired = repair_tool_calls(answer(text), tools=TOOLS)

    (call,) = repaired.tool_calls
    assert (call.name, call.arguments, call.repaired) == (
        "list_k8s_pods",
        {"namespace": "media"},
        True,
    )
    assert repaired.text == ""
    assert repaired.finish_reason is FinishReason.TOOL_CALLS


def test_several_calls_in_one_array_are_all_repaired() -> None:
    text = (
        '[{"name": "list_k8s_pods", "arguments": {}}, '
        '{"name": "get_k8s_events", "arguments": {"namespace": "db"}}]'
    )

    repaired = repair_tool_calls(answer(text), tools=TOOLS)

    assert [(call.name, call.arguments) for call in repaired.tool_calls] == [
        ("list_k8s_pods", {}),
        ("get_k8s_events", {"namespace": "db"}),
    ]
    assert repaired.text == ""


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "delete_everything", "arguments": {}}',  # not an offered tool
        '{"name": "list_k8s_pods", "arguments": {}} and {"name": "rm", "arguments": {}}',
        "The pods are fine.",
        'Pod web-0 has labels {"app": "web", "name": "web-0"}.',  # data, not a call
        # quoting or explaining a call is not making it
        'Let me look.\n{"name": "list_k8s_pods", "arguments": {}}',
        'You could run {"name": "list_k8s_pods", "arguments": {"namespace": "db"}} yourself.',
        "I would not call this:\n```json\n"
        '{"name": "list_k8s_pods", "arguments": {"namespace": "kube-system"}}\n```\n'
        "because it lists every system pod.",
    ],
)
def test_anything_ambiguous_is_left_as_text(text: str) -> None:
    response = answer(text)

    assert repair_tool_calls(response, tools=TOOLS) is response


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ('"{not json"', "not valid JSON"),
        ('"[1, 2]"', "must be a JSON object, not an array"),
        ("null", "must be a JSON object, not null"),
    ],
)
def test_a_call_with_unreadable_arguments_comes_back_saying_what_is_wrong(
    arguments: str, problem: str
) -> None:
    text = f'{{"name": "list_k8s_pods", "arguments": {arguments}}}'

    repaired = repair_tool_calls(answer(text), tools=TOOLS)

    (call,) = repaired.tool_calls
    assert (call.name, call.arguments, call.repaired) == ("list_k8s_pods", {}, True)
    assert call.arguments_error is not None
    assert problem in call.arguments_error


def test_native_tool_calls_are_never_touched() -> None:
    response = LLMResponse(
        provider="ollama",
        model="llama3.1",
        text='{"name": "get_k8s_events", "arguments": {}}',
        tool_calls=(ToolCall(id="c1", name="list_k8s_pods"),),
    )

    assert repair_tool_calls(response, tools=TOOLS) is response


def test_nothing_is_repaired_when_no_tools_were_offered() -> None:
    response = answer('{"name": "list_k8s_pods", "arguments": {}}')

    assert repair_tool_calls(response, tools=[]) is response
