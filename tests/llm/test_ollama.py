"""The Ollama adapter, against a fake Ollama through the official ``ollama`` client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from mission_control.llm import (
    AssistantMessage,
    BadRequest,
    FinishReason,
    Message,
    ModelNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from mission_control.llm.providers.ollama import OllamaProvider, ollama_parameters
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import Reply

PODS = ToolDefinition(
    name="list_k8s_pods",
    description="List pods.",
    parameters={
        "type": "object",
        "properties": {
            "namespace": {"type": "string", "description": "Namespace."},
            "limit": {
                "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
                "default": None,
            },
        },
        "required": ["namespace"],
    },
)


@pytest.fixture
async def ollama(fake_ollama: FakeOllama) -> AsyncIterator[OllamaProvider]:
    provider = OllamaProvider(base_url=fake_ollama.url, model="llama3.1", timeout=5)
    yield provider
    await provider.aclose()


async def test_a_final_answer_comes_back_with_usage(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.say("All pods are healthy.", prompt_tokens=120, completion_tokens=9)

    response = await ollama.complete(messages=[UserMessage(content="How are the pods?")])

    assert response.text == "All pods are healthy."
    assert response.finish_reason is FinishReason.STOP
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (120, 9)
    assert response.provider == "ollama"
    assert response.model == "llama3.1"
    assert response.latency_seconds > 0
    assert response.raw["message"]["content"] == "All pods are healthy."


async def test_tool_calls_come_back_with_ids_of_their_own(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.call(
        ("list_k8s_pods", {"namespace": "media"}), ("list_k8s_pods", {"namespace": "db"})
    )

    response = await ollama.complete(messages=[UserMessage(content="Check pods")], tools=[PODS])

    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("list_k8s_pods", {"namespace": "media"}),
        ("list_k8s_pods", {"namespace": "db"}),
    ]
    assert len({call.id for call in response.tool_calls}) == 2


async def test_a_conversation_with_tool_results_reaches_the_wire_in_ollama_format(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    call = ToolCall(id="call_1", name="list_k8s_pods", arguments={"namespace": "media"})
    messages: list[Message] = [
        SystemMessage(content="You are careful."),
        UserMessage(content="Check pods"),
        AssistantMessage(tool_calls=(call,)),
        ToolResultMessage(
            tool_call_id="call_1", name="list_k8s_pods", content="denied", is_error=True
        ),
    ]

    await ollama.complete(messages=messages, tools=[PODS], model="llama3.1")

    (sent,) = fake_ollama.chats
    assert sent["stream"] is False
    assert sent["messages"] == [
        {"role": "system", "content": "You are careful."},
        {"role": "user", "content": "Check pods"},
        {
            "role": "assistant",
            "tool_calls": [
                {"function": {"name": "list_k8s_pods", "arguments": {"namespace": "media"}}}
            ],
        },
        {"role": "tool", "content": "Error: denied", "tool_name": "list_k8s_pods"},
    ]
    assert sent["tools"][0]["function"]["parameters"]["properties"]["limit"] == {
        "type": "integer",
        "description": "(minimum 1; default null)",
    }


async def test_the_context_window_setting_is_sent_as_an_option(fake_ollama: FakeOllama) -> None:
    provider = OllamaProvider(base_url=fake_ollama.url, model="llama3.1", timeout=5, num_ctx=16384)
    try:
        await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()

    assert fake_ollama.chats[0]["options"] == {"num_ctx": 16384}


async def test_a_model_that_is_not_pulled_says_how_to_pull_it(ollama: OllamaProvider) -> None:
    with pytest.raises(ModelNotFound, match=r"ollama pull mistral"):
        await ollama.complete(messages=[UserMessage(content="hi")], model="mistral")


async def test_a_model_without_tool_support_is_a_bad_request(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.fail(400, "registry.ollama.ai/library/gemma:2b does not support tools")

    with pytest.raises(BadRequest, match="does not support tools"):
        await ollama.complete(messages=[UserMessage(content="hi")], tools=[PODS])


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_temporary(
    ollama: OllamaProvider, fake_ollama: FakeOllama, status: int
) -> None:
    fake_ollama.fail(status, "server busy, please try again.  maximum pending requests exceeded")

    with pytest.raises(ProviderUnavailable, match="server busy"):
        await ollama.complete(messages=[UserMessage(content="hi")])


async def test_an_unreachable_server_names_the_setting_to_check() -> None:
    with FakeOllama() as stopped:
        url = stopped.url
    provider = OllamaProvider(base_url=url, model="llama3.1", timeout=5)
    try:
        with pytest.raises(ProviderUnavailable, match="OLLAMA_BASE_URL"):
            await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()


async def test_a_slow_answer_is_abandoned_at_the_deadline(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.enqueue("POST", "/api/chat", Reply(200, {}, delay=2.0))
    started = time.monotonic()

    with pytest.raises(ProviderTimeout):
        await ollama.complete(messages=[UserMessage(content="hi")], deadline=started + 0.3)

    assert time.monotonic() - started < 1.5


async def test_a_passed_deadline_sends_nothing(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    with pytest.raises(ProviderTimeout, match="deadline passed"):
        await ollama.complete(messages=[UserMessage(content="hi")], deadline=time.monotonic() - 1)

    assert fake_ollama.chats == []


async def test_health_is_good_when_the_model_is_pulled(ollama: OllamaProvider) -> None:
    health = await ollama.check()

    assert (health.configured, health.reachable) == (True, True)


async def test_health_says_to_pull_a_missing_default_model(fake_ollama: FakeOllama) -> None:
    provider = OllamaProvider(base_url=fake_ollama.url, model="qwen2.5:7b", timeout=5)
    try:
        health = await provider.check()
    finally:
        await provider.aclose()

    assert not health.reachable
    assert "ollama pull qwen2.5:7b" in health.message


def test_schemas_are_lowered_to_what_ollama_can_carry() -> None:
    schema = {
        "type": "object",
        "$defs": {"Kind": {"type": "string", "enum": ["Pod", "Node"]}},
        "properties": {
            "kind": {"$ref": "#/$defs/Kind", "description": "Object kind."},
            "name": {"anyOf": [{"type": "string", "pattern": "^[a-z]+$"}, {"type": "null"}]},
            "mode": {"const": "fast"},
            "labels": {"type": "array", "items": {"$ref": "#/$defs/Kind"}},
            "window": {"type": "object", "properties": {"start": {"type": "string"}}},
        },
        "required": ["kind"],
    }

    assert ollama_parameters(schema) == {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": ["Pod", "Node"], "description": "Object kind."},
            "name": {"type": "string", "description": '(matching "^[a-z]+$")'},
            "mode": {"enum": ["fast"]},
            "labels": {"type": "array", "items": {"type": "string", "enum": ["Pod", "Node"]}},
            "window": {"type": "object", "description": "(an object with fields start (string))"},
        },
    }
