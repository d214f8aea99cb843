"""The Anthropic adapter, against a fake Messages API through the official ``anthropic`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mission_control.llm import (
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
from mission_control.llm.providers.anthropic import AnthropicProvider
from tests.fakes.anthropic import FakeAnthropic

PODS = ToolDefinition(
    name="list_k8s_pods",
    description="List pods.",
    parameters={"type": "object", "properties": {"namespace": {"type": "string"}}},
)


def provider_for(fake: FakeAnthropic, *, api_key: str | None = None) -> AnthropicProvider:
    return AnthropicProvider(
        api_key=api_key or fake.api_key,
        model="claude-sonnet-4-6",
        timeout=5,
        max_tokens=1024,
        base_url=fake.url,
    )


@pytest.fixture
async def claude(fake_anthropic: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    provider = provider_for(fake_anthropic)
    yield provider
    await provider.aclose()


async def test_a_final_answer_comes_back_with_usage(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.say("Nothing is crash-looping.", input_tokens=250, output_tokens=8)

    response = await claude.complete(
        messages=[SystemMessage(content="Be brief."), UserMessage(content="Crash loops?")]
    )

    assert response.text == "Nothing is crash-looping."
    assert response.finish_reason is FinishReason.STOP
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (250, 8)
    assert (response.provider, response.model) == ("anthropic", "claude-sonnet-4-6")
    (sent,) = fake_anthropic.sent
    assert sent["system"] == "Be brief."
    assert sent["max_tokens"] == 1024
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Crash loops?"}]}
    ]


async def test_a_tool_round_trip_puts_all_results_in_one_user_turn(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.call(
        ("list_k8s_pods", {"namespace": "media"}),
        ("list_k8s_pods", {"namespace": "db"}),
        text="Checking.",
    )
    first = await claude.complete(messages=[UserMessage(content="Check")], tools=[PODS])
    media, db = first.tool_calls
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert first.text == "Checking."
    conversation: list[Message] = [
        UserMessage(content="Check"),
        first.to_message(),
        ToolResultMessage(tool_call_id=media.id, name=media.name, content="web-0 CrashLoopBackOff"),
        ToolResultMessage(
            tool_call_id=db.id, name=db.name, content="denied by policy", is_error=True
        ),
        UserMessage(content="Summarise."),
    ]

    await claude.complete(messages=conversation, tools=[PODS])

    sent = fake_anthropic.sent[1]
    assert sent["tools"] == [
        {"name": "list_k8s_pods", "description": "List pods.", "input_schema": PODS.parameters}
    ]
    assert [message["role"] for message in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": media.id,
            "content": "web-0 CrashLoopBackOff",
            "is_error": False,
        },
        {
            "type": "tool_result",
            "tool_use_id": db.id,
            "content": "denied by policy",
            "is_error": True,
        },
        {"type": "text", "text": "Summarise."},
    ]


async def test_a_tool_use_left_unanswered_is_refused_like_the_api_does(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.call(("list_k8s_pods", {}))
    first = await claude.complete(messages=[UserMessage(content="Check")], tools=[PODS])

    with pytest.raises(BadRequest, match="without `tool_result` blocks"):
        await claude.complete(
            messages=[UserMessage(content="Check"), first.to_message(), UserMessage(content="?")],
            tools=[PODS],
        )


async def test_a_rate_limit_carries_the_retry_after_header(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(fake_anthropic.rate_limited(retry_after=7))

    with pytest.raises(RateLimited, match="rate limit") as caught:
        await claude.complete(messages=[UserMessage(content="hi")])

    assert caught.value.retry_after == 7.0


async def test_overloaded_is_temporary_and_not_retried_by_the_client_library(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(fake_anthropic.error(529, "overloaded_error", "Overloaded"))

    with pytest.raises(ProviderUnavailable, match="overloaded_error: Overloaded"):
        await claude.complete(messages=[UserMessage(content="hi")])

    assert len(fake_anthropic.sent) == 1


async def test_a_wrong_key_says_which_setting_to_fix(fake_anthropic: FakeAnthropic) -> None:
    provider = provider_for(fake_anthropic, api_key="wrong")
    try:
        with pytest.raises(AuthenticationFailed, match="ANTHROPIC_API_KEY"):
            await provider.complete(messages=[UserMessage(content="hi")])
    finally:
        await provider.aclose()


async def test_an_unknown_model_is_not_found(claude: AnthropicProvider) -> None:
    with pytest.raises(ModelNotFound, match="claude-nonexistent"):
        await claude.complete(messages=[UserMessage(content="hi")], model="claude-nonexistent")


async def test_a_refusal_is_a_content_filter_finish(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.say("I can't help with that.", stop_reason="refusal")

    response = await claude.complete(messages=[UserMessage(content="hi")])

    assert response.finish_reason is FinishReason.CONTENT_FILTER


async def test_health_checks_the_model_with_the_key(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    assert (await claude.check()).reachable

    provider = provider_for(fake_anthropic, api_key="wrong")
    try:
        health = await provider.check()
    finally:
        await provider.aclose()
    assert not health.reachable
    assert "ANTHROPIC_API_KEY" in health.message
