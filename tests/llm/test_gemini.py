"""The Gemini adapter, against a fake Gemini API through the official ``google-genai`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mission_control.llm import (
    AssistantMessage,
    AuthenticationFailed,
    BadRequest,
    FinishReason,
    Message,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
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


async def test_a_tool_round_trip_is_accepted_with_signatures_and_linked_responses(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.call(("list_k8s_pods", {"namespace": "media"}), ("get_k8s_pod_logs", {}))
    first = await gemini.complete(messages=[UserMessage(content="Check")], tools=[PODS, LOGS])
    pods, logs = first.tool_calls
    conversation: list[Message] = [
        UserMessage(content="Check"),
        first.to_message(),
        ToolResultMessage(tool_call_id=pods.id, name=pods.name, content="web-0 CrashLoopBackOff"),
        ToolResultMessage(tool_call_id=logs.id, name=logs.name, content="denied", is_error=True),
    ]
    fake_gemini.say("web-0 crash-loops.")

    second = await gemini.complete(messages=conversation, tools=[PODS, LOGS])

    assert second.text == "web-0 crash-loops."
    sent = fake_gemini.generations[1]
    assert [content["role"] for content in sent["contents"]] == ["user", "model", "user"]
    assert sent["contents"][2]["parts"] == [
        {
            "functionResponse": {
                "id": pods.id,
                "name": "list_k8s_pods",
                "response": {"output": "web-0 CrashLoopBackOff"},
            }
        },
        {
            "functionResponse": {
                "id": logs.id,
                "name": "get_k8s_pod_logs",
                "response": {"error": "denied"},
            }
        },
    ]
    declarations = sent["tools"][0]["functionDeclarations"]
    assert declarations[0]["parameters_json_schema"] == PODS.parameters


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
    provider = provider_for(fake_gemini, api_key="wrong")
    try:
        with pytest.raises(AuthenticationFailed, match="GEMINI_API_KEY"):
            await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()


async def test_an_unknown_model_is_not_found(gemini: GeminiProvider) -> None:
    with pytest.raises(ModelNotFound, match="gemini-9-ultra"):
        await gemini.complete(messages=[UserMessage(content="hi")], model="gemini-9-ultra")


async def test_an_overloaded_model_is_temporary(
    gemini: GeminiProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.fail(fake_gemini.error(503, "The model is overloaded. Please try again later."))

    with pytest.raises(ProviderUnavailable, match="overloaded"):
        await gemini.complete(messages=[UserMessage(content="hi")])


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
