"""The Ollama adapter against a hand-written double, for what the real server cannot do on demand.

Answers, tool calls, missing models and health run against the real Ollama
(``test_ollama_server.py``). What stays here are faults and exact wire details: a stalled or
broken stream, server errors, an unreachable or slow server, the bodies sent, credentials.
Each behaviour is checked on both paths: streamed (NDJSON, the default) and one whole answer.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mission_control.llm import (
    AssistantMessage,
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


async def test_missing_token_counts_are_zero(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    fake_ollama.say("cached", prompt_tokens=None, completion_tokens=3)

    response = await ollama.complete(messages=[UserMessage(content="again")])

    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (0, 3)


async def test_a_stalled_model_is_abandoned_long_before_the_timeout(
    fake_ollama: FakeOllama,
) -> None:
    # Order, not time: the fake holds its second chunk back for longer than the stall bound;
    # had the adapter waited for it (or for the 30 s timeout), the answer would arrive whole.
    provider = OllamaProvider(
        base_url=fake_ollama.url, model="llama3.1", timeout=30, stall_seconds=0.2
    )
    fake_ollama.say("Let me think about this", stall=2.0)
    try:
        with pytest.raises(ProviderTimeout, match=r"sent nothing for 0\.2 s") as caught:
            await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()

    assert "OLLAMA_STALL_SECONDS" in str(caught.value)


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
    # The bound the adapter applied is in the message: the deadline's 0.3 s, not its 5 s.
    fake_ollama.enqueue("POST", "/api/chat", Reply(200, {}, delay=2.0))

    with pytest.raises(ProviderTimeout, match=r"no answer within 0\.[23] s"):
        await ollama.complete(messages=[UserMessage(content="hi")], deadline=time.monotonic() + 0.3)


async def test_a_passed_deadline_sends_nothing(
    ollama: OllamaProvider, fake_ollama: FakeOllama
) -> None:
    with pytest.raises(ProviderTimeout, match="deadline passed"):
        await ollama.complete(messages=[UserMessage(content="hi")], deadline=time.monotonic() - 1)

    assert fake_ollama.chats == []


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


async def test_the_environments_ollama_api_key_is_never_sent(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ollama library would send it as a bearer token to whatever host it talks to.
    monkeypatch.setenv("OLLAMA_API_KEY", "key-for-ollama-com-only")
    plain = OllamaProvider(base_url=fake_ollama.url, model="llama3.1", timeout=5)
    with_url_credentials = OllamaProvider(
        base_url=fake_ollama.url.replace("http://", "http://mc:pw@"), model="llama3.1", timeout=5
    )
    try:
        await plain.complete(messages=[UserMessage(content="hi")])
        await with_url_credentials.complete(messages=[UserMessage(content="hi")])
        await plain.check()
    finally:
        await plain.aclose()
        await with_url_credentials.aclose()

    first, second = fake_ollama.requests_to("POST", "/api/chat")
    assert "authorization" not in first.headers
    assert second.headers["authorization"] == "Basic " + base64.b64encode(b"mc:pw").decode()
    assert all("key-for-ollama-com-only" not in str(r.headers) for r in fake_ollama.requests)
