"""The Ollama adapter, against a fake Ollama through the official ``ollama`` client.

Most behaviour is checked on both paths: streamed (NDJSON, the default) and one whole answer.
Over 400 lines because each behaviour runs on both paths; the behaviours every provider shares
belong in a provider-contract test, which would shrink this file.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from mission_control.llm import (
    AssistantMessage,
    BadRequest,
    BadResponse,
    Cost,
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
    load_price_table,
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


STREAMED, WHOLE = 30.0, None  # stall_seconds: streaming on, streaming off


@pytest.fixture(params=[STREAMED, WHOLE], ids=["streamed", "whole"])
async def ollama(
    fake_ollama: FakeOllama, request: pytest.FixtureRequest
) -> AsyncIterator[OllamaProvider]:
    provider = OllamaProvider(
        base_url=fake_ollama.url, model="llama3.1", timeout=5, stall_seconds=request.param
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def streamed(fake_ollama: FakeOllama) -> AsyncIterator[OllamaProvider]:
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
    assert response.raw["done_reason"] == "stop"


async def test_a_streamed_answer_is_assembled_from_its_ndjson_chunks(
    streamed: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.say("web-0 is crash-looping since 08:00.\n", prompt_tokens=80, completion_tokens=11)

    response = await streamed.complete(messages=[UserMessage(content="Status?")])

    assert response.text == "web-0 is crash-looping since 08:00.\n"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (80, 11)
    assert response.raw["done"] is True
    assert response.raw["eval_duration"] == 400_000  # durations come from the final chunk


async def test_missing_token_counts_are_zero(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.say("cached", prompt_tokens=None, completion_tokens=3)

    response = await ollama.complete(messages=[UserMessage(content="again")])

    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (0, 3)


async def test_a_stalled_model_is_abandoned_long_before_the_timeout(
    fake_ollama: FakeOllama,
) -> None:
    provider = OllamaProvider(
        base_url=fake_ollama.url, model="llama3.1", timeout=30, stall_seconds=0.2
    )
    fake_ollama.say("Let me think about this", stall=2.0)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeout, match="OLLAMA_STALL_SECONDS"):
            await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()

    assert time.monotonic() - started < 1.5


async def test_an_error_in_the_middle_of_a_stream_is_temporary(
    streamed: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.break_off("model runner has unexpectedly stopped")

    with pytest.raises(ProviderUnavailable, match="broke off: model runner has unexpectedly"):
        await streamed.complete(messages=[UserMessage(content="hi")])


async def test_a_stream_cut_before_its_final_chunk_is_a_bad_response(
    streamed: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    chunk = b'{"model":"llama3.1","created_at":"2025-06-01T12:00:00Z",'
    chunk += b'"message":{"role":"assistant","content":"Hal"},"done":false}\n'
    fake_ollama.enqueue("POST", "/api/chat", Reply(200, iter([chunk])))  # chunked, no "done"

    with pytest.raises(BadResponse, match="ended before its final chunk"):
        await streamed.complete(messages=[UserMessage(content="hi")])


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
    assert all(call.id.startswith("call_") for call in response.tool_calls)


@pytest.mark.parametrize("stall_seconds", [STREAMED, WHOLE], ids=["streamed", "whole"])
async def test_newer_and_older_servers_tool_calls_get_the_same_stable_ids(
    stall_seconds: float | None,
) -> None:
    ids = []
    for newer in (True, False):  # newer servers send "id" and "function.index"; older do not
        with FakeOllama(tool_call_ids=newer) as fake:
            provider = OllamaProvider(
                base_url=fake.url, model="llama3.1", timeout=5, stall_seconds=stall_seconds
            )
            fake.call(("list_k8s_pods", {"namespace": "media"}), ("list_k8s_pods", {}))
            try:
                response = await provider.complete(messages=[UserMessage(content="Check")])
            finally:
                await provider.aclose()
        ids.append([call.id for call in response.tool_calls])

    newer_ids, older_ids = ids
    assert newer_ids == older_ids  # derived from the answer, not from the server's "id"
    assert len(set(newer_ids)) == 2


async def test_a_two_turn_tool_conversation_sends_exact_bodies_and_costs_nothing(
    streamed: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    tool = ToolDefinition(
        name="list_k8s_pods",
        description="List pods.",
        parameters={
            "type": "object",
            "properties": {"namespace": {"type": "string", "description": "Namespace."}},
            "required": ["namespace"],
        },
    )
    fake_ollama.call(
        ("list_k8s_pods", {"namespace": "media"}), prompt_tokens=150, completion_tokens=18
    )
    fake_ollama.say("web-0 is crash-looping.", prompt_tokens=210, completion_tokens=9)
    conversation: list[Message] = [
        SystemMessage(content="You are careful."),
        UserMessage(content="Any crash loops in media?"),
    ]

    first = await streamed.complete(messages=conversation, tools=[tool])
    (call,) = first.tool_calls
    conversation += [
        first.to_message(),
        ToolResultMessage(tool_call_id=call.id, name=call.name, content="web-0 CrashLoopBackOff"),
    ]
    second = await streamed.complete(messages=conversation, tools=[tool])

    wire_tool = {
        "type": "function",
        "function": {
            "name": "list_k8s_pods",
            "description": "List pods.",
            "parameters": {
                "type": "object",
                "required": ["namespace"],
                "properties": {"namespace": {"type": "string", "description": "Namespace."}},
            },
        },
    }
    asked = [
        {"role": "system", "content": "You are careful."},
        {"role": "user", "content": "Any crash loops in media?"},
    ]
    assert fake_ollama.chats == [
        {"model": "llama3.1", "stream": True, "messages": asked, "tools": [wire_tool]},
        {
            "model": "llama3.1",
            "stream": True,
            "messages": [
                *asked,
                {  # the client library drops the empty content
                    "role": "assistant",
                    "tool_calls": [
                        {"function": {"name": "list_k8s_pods", "arguments": {"namespace": "media"}}}
                    ],
                },
                {"role": "tool", "content": "web-0 CrashLoopBackOff", "tool_name": "list_k8s_pods"},
            ],
            "tools": [wire_tool],
        },
    ]
    assert second.text == "web-0 is crash-looping."
    assert second.finish_reason is FinishReason.STOP
    usage = first.usage + second.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (360, 27)
    cost = load_price_table(None).cost(usage, provider="ollama", model=second.model)
    assert cost == Cost(usd=Decimal(0), priced=True)


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
    with pytest.raises(ModelNotFound, match=r"run `ollama pull mistral` on http://127\.0\.0\.1"):
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


@pytest.mark.parametrize("stall_seconds", [STREAMED, WHOLE], ids=["streamed", "whole"])
async def test_an_unreachable_server_names_the_setting_to_check(
    stall_seconds: float | None,
) -> None:
    with FakeOllama() as stopped:
        url = stopped.url
    provider = OllamaProvider(
        base_url=url, model="llama3.1", timeout=5, stall_seconds=stall_seconds
    )
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


def test_the_fake_answers_version_and_tags_like_ollama(fake_ollama: FakeOllama) -> None:
    version = httpx.get(f"{fake_ollama.url}/api/version")
    tags = httpx.get(f"{fake_ollama.url}/api/tags")

    assert version.json() == {"version": "0.12.6"}
    assert [model["name"] for model in tags.json()["models"]] == ["llama3.1:latest"]


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


async def test_credentials_in_the_url_authenticate_but_never_reach_a_message(
    fake_ollama: FakeOllama,
) -> None:
    url = fake_ollama.url.replace("http://", "http://mc:s3cr%40t@")
    provider = OllamaProvider(base_url=url, model="mistral", timeout=5)  # not pulled
    try:
        answer = await provider.complete(messages=[UserMessage(content="hi")], model="llama3.1")
        with pytest.raises(ModelNotFound) as caught:
            await provider.complete(messages=[UserMessage(content="hi")])
        health = await provider.check()
    finally:
        await provider.aclose()

    assert answer.text == "OK"
    sent = fake_ollama.requests_to("POST", "/api/chat")[0].headers["authorization"]
    assert sent == "Basic " + base64.b64encode(b"mc:s3cr@t").decode()
    for text in (str(caught.value), health.message, repr(provider)):
        assert "s3cr" not in text
        assert f"http://127.0.0.1:{fake_ollama.port}" in text
