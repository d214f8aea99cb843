"""The Gemini adapter, against a fake Gemini API through the official ``google-genai`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from mission_control.llm import (
    AssistantMessage,
    AuthenticationFailed,
    BadRequest,
    Cost,
    FinishReason,
    Message,
    RateLimited,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
    load_price_table,
)
from mission_control.llm.providers.gemini import GeminiProvider
from tests.fakes.gemini import FakeGemini
from tests.fakes.server import Reply

PODS = ToolDefinition(
    name="list_k8s_pods",
    description="List pods.",
    parameters={
        "type": "object",
        "properties": {"namespace": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    },
)
LOGS = ToolDefinition(name="get_k8s_pod_logs", description="Logs of a pod.")


def provider_for(fake: FakeGemini, *, api_key: str | None = None) -> GeminiProvider:
    return GeminiProvider(
        api_key=api_key or fake.api_key, model="gemini-2.0-flash", timeout=5, base_url=fake.url
    )


@pytest.fixture
async def gemini(fake_gemini: FakeGemini) -> AsyncIterator[GeminiProvider]:
    provider = provider_for(fake_gemini)
    yield provider
    await provider.aclose()


async def test_a_final_answer_comes_back_with_usage(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.say("Two pods crash-loop.", prompt_tokens=300, completion_tokens=12)

    response = await gemini.complete(
        messages=[SystemMessage(content="Be brief."), UserMessage(content="Any crash loops?")]
    )

    assert response.text == "Two pods crash-loop."
    assert response.finish_reason is FinishReason.STOP
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (300, 12)
    assert (response.provider, response.model) == ("gemini", "gemini-2.0-flash")
    (sent,) = fake_gemini.generations
    assert sent["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Any crash loops?"}]}]


async def test_requests_use_the_pinned_api_version_and_the_key_header(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    await gemini.complete(messages=[UserMessage(content="hi")])

    (request,) = fake_gemini.requests
    assert request.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert request.headers["x-goog-api-key"] == fake_gemini.api_key


async def test_function_calls_keep_their_ids_and_thought_signatures(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.call(("list_k8s_pods", {"namespace": "media"}))

    response = await gemini.complete(messages=[UserMessage(content="Check")], tools=[PODS])

    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("fc-1", "list_k8s_pods", {"namespace": "media"})
    assert call.signature == fake_gemini.issued_signatures["fc-1"]
    assert response.finish_reason is FinishReason.TOOL_CALLS


async def test_a_two_turn_tool_conversation_sends_exact_bodies_and_is_priced(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.call(
        ("list_k8s_pods", {"namespace": "media"}),
        ("get_k8s_pod_logs", {}),
        prompt_tokens=1200,
        completion_tokens=40,
    )
    fake_gemini.say("web-0 crash-loops.", prompt_tokens=1400, completion_tokens=60)
    asked: list[Message] = [SystemMessage(content="Be brief."), UserMessage(content="Check")]

    first = await gemini.complete(messages=asked, tools=[PODS, LOGS])
    pods, logs = first.tool_calls
    conversation: list[Message] = [
        *asked,
        first.to_message(),
        ToolResultMessage(tool_call_id=pods.id, name=pods.name, content="web-0 CrashLoopBackOff"),
        ToolResultMessage(tool_call_id=logs.id, name=logs.name, content="denied", is_error=True),
    ]
    second = await gemini.complete(messages=conversation, tools=[PODS, LOGS])

    common = {
        "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "description": "List pods.",
                        "name": "list_k8s_pods",
                        "parameters_json_schema": PODS.parameters,
                    },
                    {
                        "description": "Logs of a pod.",
                        "name": "get_k8s_pod_logs",
                        "parameters_json_schema": {"type": "object", "properties": {}},
                    },
                ]
            }
        ],
        "generationConfig": {},
    }
    question = {"parts": [{"text": "Check"}], "role": "user"}
    assert fake_gemini.generations == [
        {"contents": [question], **common},
        {
            "contents": [
                question,
                {
                    "parts": [
                        {
                            "functionCall": {
                                "id": "fc-1",
                                "args": {"namespace": "media"},
                                "name": "list_k8s_pods",
                            },
                            "thoughtSignature": fake_gemini.issued_signatures["fc-1"],
                        },
                        {
                            "functionCall": {"id": "fc-2", "args": {}, "name": "get_k8s_pod_logs"},
                            "thoughtSignature": fake_gemini.issued_signatures["fc-2"],
                        },
                    ],
                    "role": "model",
                },
                {
                    "parts": [
                        {
                            "functionResponse": {
                                "id": "fc-1",
                                "name": "list_k8s_pods",
                                "response": {"output": "web-0 CrashLoopBackOff"},
                            }
                        },
                        {
                            "functionResponse": {
                                "id": "fc-2",
                                "name": "get_k8s_pod_logs",
                                "response": {"error": "denied"},
                            }
                        },
                    ],
                    "role": "user",
                },
            ],
            **common,
        },
    ]
    assert (second.text, second.finish_reason) == ("web-0 crash-loops.", FinishReason.STOP)
    usage = first.usage + second.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (2600, 100)
    cost = load_price_table(None).cost(usage, provider="gemini", model=second.model)
    assert cost == Cost(usd=Decimal("0.00030"), priced=True)  # $0.10 and $0.40 per million


async def test_a_lost_thought_signature_is_refused_like_gemini_does(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.call(("list_k8s_pods", {}))
    (call,) = (
        await gemini.complete(messages=[UserMessage(content="Check")], tools=[PODS])
    ).tool_calls
    unsigned = call.model_copy(update={"signature": None})
    conversation: list[Message] = [
        UserMessage(content="Check"),
        AssistantMessage(tool_calls=(unsigned,)),
        ToolResultMessage(tool_call_id=call.id, name=call.name, content="none"),
    ]

    with pytest.raises(BadRequest, match="thought_signature"):
        await gemini.complete(messages=conversation, tools=[PODS])


async def test_calls_without_ids_get_ids_and_still_link_by_name() -> None:
    fake = FakeGemini(call_ids=False, signatures=False)
    fake.start()
    provider = provider_for(fake)
    fake.call(("list_k8s_pods", {}))
    try:
        first = await provider.complete(messages=[UserMessage(content="Check")], tools=[PODS])
        (call,) = first.tool_calls
        conversation: list[Message] = [
            UserMessage(content="Check"),
            first.to_message(),
            ToolResultMessage(tool_call_id=call.id, name=call.name, content="ok"),
        ]
        await provider.complete(messages=conversation, tools=[PODS])
    finally:
        await provider.aclose()
        fake.stop()

    assert call.id.startswith("call_")
    assert call.signature is None
    assert fake.generations[1]["contents"][2]["parts"][0]["functionResponse"]["id"] == call.id


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", FinishReason.MALFORMED_TOOL_CALL),
    ],
)
async def test_finish_reasons_are_translated(
    gemini: GeminiProvider, fake_gemini: FakeGemini, finish: str, expected: FinishReason
) -> None:
    fake_gemini.say("partial", finish_reason=finish)

    response = await gemini.complete(messages=[UserMessage(content="hi")])

    assert response.finish_reason is expected


async def test_a_blocked_prompt_is_a_content_filter_finish_with_its_usage(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    blocked = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 40, "totalTokenCount": 40},
        "modelVersion": "gemini-2.0-flash",
    }
    fake_gemini.fail(Reply(200, blocked))

    response = await gemini.complete(messages=[UserMessage(content="hi")])

    assert response.finish_reason is FinishReason.CONTENT_FILTER
    assert (response.text, response.tool_calls) == ("", ())
    assert response.usage.prompt_tokens == 40
    assert response.raw["prompt_feedback"]["block_reason"] == "PROHIBITED_CONTENT"


async def test_the_free_tier_limit_is_rate_limited_with_gemini_s_retry_delay(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.fail(fake_gemini.rate_limited(retry_delay="2.5s"))

    with pytest.raises(RateLimited, match="exceeded your current quota") as caught:
        await gemini.complete(messages=[UserMessage(content="hi")])

    assert caught.value.retry_after == 2.5
    assert len(fake_gemini.generations) == 1  # the client library did not retry by itself


async def test_a_wrong_key_says_which_setting_to_fix(fake_gemini: FakeGemini) -> None:
    provider = provider_for(fake_gemini, api_key="AIza-wrong-key")
    try:
        with pytest.raises(AuthenticationFailed, match="GEMINI_API_KEY") as caught:
            await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()

    assert "400 INVALID_ARGUMENT: API key not valid" in str(caught.value)
    assert "AIza-wrong-key" not in str(caught.value)


async def test_a_key_without_access_to_the_api_says_which_setting_to_fix(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.fail(fake_gemini.permission_denied())

    with pytest.raises(AuthenticationFailed, match="403 PERMISSION_DENIED") as caught:
        await gemini.complete(messages=[UserMessage(content="hi")])

    assert "set GEMINI_API_KEY to a key of a project that may use" in str(caught.value)
    assert fake_gemini.api_key not in str(caught.value)


async def test_an_invalid_argument_is_a_bad_request_that_says_retrying_will_not_help(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.fail(
        fake_gemini.invalid_argument(
            "* GenerateContentRequest.tools[0].function_declarations[0].parameters.properties: "
            "should be non-empty for OBJECT type"
        )
    )

    with pytest.raises(BadRequest, match="400 INVALID_ARGUMENT") as caught:
        await gemini.complete(messages=[UserMessage(content="hi")], tools=[PODS])

    assert "should be non-empty for OBJECT type" in str(caught.value)
    assert "retrying will not help: correct what it names" in str(caught.value)


@pytest.mark.parametrize("status", [400, 403])
def test_the_fake_sends_errors_as_json_like_google(fake_gemini: FakeGemini, status: int) -> None:
    headers = {} if status == 403 else {"x-goog-api-key": "wrong"}

    reply = httpx.post(
        f"{fake_gemini.url}/v1beta/models/gemini-2.0-flash:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers=headers,
    )

    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("application/json")
    assert (
        reply.json()["error"]["status"]
        == {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED"}[status]
    )


async def test_a_function_response_without_its_call_is_refused_like_gemini_does(
    gemini: GeminiProvider,
) -> None:
    orphan = ToolResultMessage(tool_call_id="x", name="list_k8s_pods", content="ok")

    with pytest.raises(BadRequest, match="function response turn comes immediately after"):
        await gemini.complete(messages=[UserMessage(content="hi"), orphan], tools=[PODS])


async def test_health_checks_the_model_with_the_key(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    assert (await gemini.check()).reachable

    provider = provider_for(fake_gemini, api_key="wrong")
    try:
        health = await provider.check()
    finally:
        await provider.aclose()
    assert not health.reachable
    assert "GEMINI_API_KEY" in health.message
