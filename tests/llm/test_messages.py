"""Neutral messages: validated once, and a conversation survives the journal as JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from mission_control.llm import (
    AssistantMessage,
    FinishReason,
    LLMResponse,
    Message,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    Usage,
    UserMessage,
    dump_messages,
    load_messages,
)


def test_a_conversation_round_trips_through_json() -> None:
    call = ToolCall(
        id="fc-1", name="list_k8s_pods", arguments={"namespace": "media"}, signature="c2ln"
    )
    conversation: list[Message] = [
        SystemMessage(content="Be careful."),
        UserMessage(content="Check pods"),
        AssistantMessage(content="Looking.", tool_calls=(call,)),
        ToolResultMessage(tool_call_id="fc-1", name="list_k8s_pods", content="none", is_error=True),
    ]

    stored = json.loads(json.dumps(dump_messages(conversation)))

    assert load_messages(stored) == conversation
    assert stored[2]["tool_calls"][0]["signature"] == "c2ln"


def test_a_message_with_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValidationError, match="role"):
        load_messages([{"role": "developer", "content": "hi"}])


def test_usage_adds_up_and_reports_its_total() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=7) + Usage(
        prompt_tokens=20, completion_tokens=3
    )

    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (120, 10, 130)
    assert usage.model_dump()["total_tokens"] == 130


def test_a_response_round_trips_through_json() -> None:
    response = LLMResponse(
        provider="gemini",
        model="gemini-2.0-flash",
        text="Done.",
        usage=Usage(prompt_tokens=10, completion_tokens=2),
        latency_seconds=0.4,
        raw={"responseId": "r1"},
    )

    assert LLMResponse.model_validate(json.loads(response.model_dump_json())) == response


def test_a_response_becomes_the_next_assistant_turn() -> None:
    call = ToolCall(id="c1", name="list_k8s_pods")
    response = LLMResponse(
        provider="ollama",
        model="llama3.1",
        text="Checking.",
        tool_calls=(call,),
        finish_reason=FinishReason.TOOL_CALLS,
    )

    assert response.to_message() == AssistantMessage(content="Checking.", tool_calls=(call,))


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("list pods", {"type": "object"}),  # spaces are refused by the providers
        ("9lives", {"type": "object"}),
        ("list_k8s_pods", {"type": "array"}),  # arguments are always an object
    ],
)
def test_tool_definitions_every_provider_would_refuse_are_refused_early(
    name: str, parameters: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        ToolDefinition(name=name, description="x", parameters=parameters)
