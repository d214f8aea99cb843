"""The Ollama adapter against a real Ollama server serving scripted models.

Faults a real server does not produce on demand (500s, stalls, broken streams, 429s) stay on
the hand-written double in ``test_ollama.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from mission_control.llm import (
    BadRequest,
    FinishReason,
    Message,
    ModelNotFound,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from mission_control.llm.providers.ollama import OllamaProvider
from mission_control.llm.repair import repair_tool_calls
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.ollama import LocalOllama
from tests.support.scripted_model import NO_MORE_TURNS, call, calls, json_call, say

pytestmark = pytest.mark.ollama


def _tool(name: str) -> ToolDefinition:
    return ToolDefinition(
        name=name,
        description=f"{name} in a namespace.",
        parameters={
            "type": "object",
            "properties": {"namespace": {"type": "string", "description": "Namespace."}},
            "required": ["namespace"],
        },
    )


PODS, EVENTS = _tool("list_k8s_pods"), _tool("get_k8s_events")
STREAMED, WHOLE = 30.0, None  # stall_seconds: streaming on, streaming off

Connect = Callable[[str], OllamaProvider]


@pytest.fixture(params=[STREAMED, WHOLE], ids=["streamed", "whole"])
async def connect(
    ollama_server: LocalOllama, request: pytest.FixtureRequest
) -> AsyncIterator[Connect]:
    """Makes providers for a model on the real server, streamed or not."""
    providers: list[OllamaProvider] = []

    def make(model: str) -> OllamaProvider:
        provider = OllamaProvider(
            base_url=ollama_server.url, model=model, timeout=30, stall_seconds=request.param
        )
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.aclose()


async def test_a_final_answer_comes_back_with_usage(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[say("All pods are healthy.")])

    response = await connect(model).complete(messages=[UserMessage(content="How are the pods?")])

    assert response.text == "All pods are healthy."
    assert response.finish_reason is FinishReason.STOP
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
    assert response.model == model
    assert response.raw["done_reason"] == "stop"


def test_a_streamed_answer_arrives_in_several_ndjson_chunks(
    ollama_server: LocalOllama, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[say("web-0 is crash-looping since 08:00.")])
    body = {"model": model, "messages": [{"role": "user", "content": "Status?"}]}

    with httpx.stream("POST", f"{ollama_server.url}/api/chat", json=body, timeout=30) as reply:
        chunks = [json.loads(line) for line in reply.iter_lines() if line]

    assert reply.headers["content-type"] == "application/x-ndjson"
    assert len(chunks) > 2
    assert "".join(chunk["message"]["content"] for chunk in chunks) == (
        "web-0 is crash-looping since 08:00."
    )
    assert [chunk["done"] for chunk in chunks] == [False] * (len(chunks) - 1) + [True]


async def test_a_tool_call_comes_back_structured_with_an_id(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[call("list_k8s_pods", namespace="media")])

    response = await connect(model).complete(
        messages=[UserMessage(content="Check pods")], tools=[PODS, EVENTS]
    )

    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert response.text == ""
    ((name, arguments, call_id),) = [(c.name, c.arguments, c.id) for c in response.tool_calls]
    assert (name, arguments) == ("list_k8s_pods", {"namespace": "media"})
    assert call_id.startswith("call_")


async def test_several_tool_calls_in_one_turn_get_ids_of_their_own(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(
        turns=[
            calls(
                call("list_k8s_pods", namespace="media"),
                call("get_k8s_events", namespace="db"),
                text="Checking both.",
            )
        ]
    )

    response = await connect(model).complete(
        messages=[UserMessage(content="Check")], tools=[PODS, EVENTS]
    )

    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("list_k8s_pods", {"namespace": "media"}),
        ("get_k8s_events", {"namespace": "db"}),
    ]
    assert response.text == "Checking both."
    assert len({c.id for c in response.tool_calls}) == 2


async def test_a_run_loop_gets_the_scripted_turns_in_order(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace="ns1"),
            call("get_k8s_events", namespace="ns1"),
            say("Pod web-0 crashes: OOMKilled."),
        ]
    )
    provider = connect(model)
    conversation: list[Message] = [
        SystemMessage(content="You are careful."),
        UserMessage(content="Why does web-0 restart?"),
    ]
    answers = []
    for _ in range(4):  # one request more than the script has turns
        response = await provider.complete(messages=conversation, tools=[PODS, EVENTS])
        answers.append((response.text, [(c.name, c.arguments) for c in response.tool_calls]))
        conversation.append(response.to_message())
        conversation += [
            ToolResultMessage(tool_call_id=c.id, name=c.name, content=f"{c.name}: 1 item")
            for c in response.tool_calls
        ]

    assert answers == [
        ("", [("list_k8s_pods", {"namespace": "ns1"})]),
        ("", [("get_k8s_events", {"namespace": "ns1"})]),
        ("Pod web-0 crashes: OOMKilled.", []),
        (NO_MORE_TURNS, []),
    ]


async def test_repeated_and_overlapping_turns_are_each_answered_exactly(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    # A token has one successor, so texts sharing words must be cut into distinct tokens.
    turns = [
        say("OK"),
        say("OK"),
        say("OK OK OK"),
        call("list_k8s_pods", namespace="ns1"),
        call("list_k8s_pods", namespace="ns1"),
        call("list_k8s_pods", namespace="ns11"),
        say("O"),
    ]
    provider = connect(scripted_model(turns=turns))
    conversation: list[Message] = [UserMessage(content="Go.")]
    answers = []
    for _ in turns:
        response = await provider.complete(messages=conversation, tools=[PODS])
        answers.append(response.text or response.tool_calls[0].arguments["namespace"])
        conversation += [
            response.to_message(),
            *[
                ToolResultMessage(tool_call_id=c.id, name=c.name, content="[]")
                for c in response.tool_calls
            ],
            UserMessage(content="Go on."),  # Ollama merges adjacent messages of one role
        ]

    assert answers == ["OK", "OK", "OK OK OK", "ns1", "ns1", "ns11", "O"]


async def test_a_tool_call_written_as_json_text_arrives_as_text_and_is_repaired(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[json_call("list_k8s_pods", namespace="media")])

    response = await connect(model).complete(
        messages=[UserMessage(content="Check pods")], tools=[PODS]
    )
    repaired = repair_tool_calls(response, tools=[PODS])

    assert response.tool_calls == ()
    assert json.loads(response.text) == {
        "name": "list_k8s_pods",
        "arguments": {"namespace": "media"},
    }
    assert [(c.name, c.arguments, c.repaired) for c in repaired.tool_calls] == [
        ("list_k8s_pods", {"namespace": "media"}, True)
    ]


async def test_thinking_comes_apart_from_the_answer(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[say("Node n1 is full.", thinking="Check the disk first.")])

    response = await connect(model).complete(messages=[UserMessage(content="Why?")])

    assert response.text == "Node n1 is full."
    assert response.raw["message"]["thinking"] == "Check the disk first."


async def test_a_model_that_is_not_pulled_says_how_to_pull_it(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    provider = connect(scripted_model(turns=[say("unused")]))

    with pytest.raises(ModelNotFound, match=r"run `ollama pull mistral` on http://127\.0\.0\.1"):
        await provider.complete(messages=[UserMessage(content="hi")], model="mistral")


async def test_tools_for_a_model_without_tool_support_are_a_bad_request(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[say("I cannot call tools.")], tools=False)
    provider = connect(model)

    with pytest.raises(BadRequest, match="does not support tools"):
        await provider.complete(messages=[UserMessage(content="hi")], tools=[PODS])
    without_tools = await provider.complete(messages=[UserMessage(content="hi")])

    assert without_tools.text == "I cannot call tools."


def test_the_server_reports_its_version_models_and_capabilities(
    ollama_server: LocalOllama, scripted_model: ScriptedModelFactory
) -> None:
    plain = scripted_model(turns=[say("hi")], tools=False)
    capable = scripted_model(turns=[say("hi", thinking="hm")])

    version = httpx.get(f"{ollama_server.url}/api/version", timeout=10).json()
    tags = httpx.get(f"{ollama_server.url}/api/tags", timeout=10).json()
    shown = {
        name: httpx.post(f"{ollama_server.url}/api/show", json={"model": name}, timeout=10).json()
        for name in (plain, capable)
    }

    assert version == {"version": "0.17.4"}
    assert {f"{plain}:latest", f"{capable}:latest"} <= {model["name"] for model in tags["models"]}
    assert shown[plain]["capabilities"] == ["completion"]
    assert sorted(shown[capable]["capabilities"]) == ["completion", "thinking", "tools"]


async def test_health_is_good_when_the_model_is_there(
    connect: Connect, scripted_model: ScriptedModelFactory
) -> None:
    health = await connect(scripted_model(turns=[say("hi")])).check()

    assert (health.configured, health.reachable) == (True, True)


async def test_health_says_to_pull_a_missing_default_model(connect: Connect) -> None:
    health = await connect("qwen2.5:7b").check()

    assert not health.reachable
    assert "ollama pull qwen2.5:7b" in health.message
