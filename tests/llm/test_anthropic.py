"""The Anthropic adapter, against a fake Messages API through the official ``anthropic`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mission_control.llm import (
    AuthenticationFailed,
    BadRequest,
    BadResponse,
    Cost,
    FinishReason,
    Message,
    ProviderUnavailable,
    RateLimited,
    SystemMessage,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
    load_price_table,
)
from mission_control.llm.providers.anthropic import AnthropicProvider
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.server import Reply

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


async def test_a_two_turn_tool_conversation_sends_exact_bodies_and_is_priced(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.call(
        ("list_k8s_pods", {"namespace": "media"}),
        ("list_k8s_pods", {"namespace": "db"}),
        text="Checking.",
        input_tokens=1000,
        output_tokens=50,
    )
    fake_anthropic.say(
        "web-0 crash-loops; db was not checked.", input_tokens=1200, output_tokens=30
    )
    asked: list[Message] = [SystemMessage(content="Be brief."), UserMessage(content="Check")]

    first = await claude.complete(messages=asked, tools=[PODS])
    media, db = first.tool_calls
    conversation: list[Message] = [
        *asked,
        first.to_message(),
        ToolResultMessage(tool_call_id=media.id, name=media.name, content="web-0 CrashLoopBackOff"),
        ToolResultMessage(
            tool_call_id=db.id, name=db.name, content="denied by policy", is_error=True
        ),
        UserMessage(content="Summarise."),
    ]
    second = await claude.complete(messages=conversation, tools=[PODS])

    assert (first.finish_reason, first.text) == (FinishReason.TOOL_CALLS, "Checking.")
    common = {
        "max_tokens": 1024,
        "model": "claude-sonnet-4-6",
        "system": "Be brief.",
        "tools": [
            {"name": "list_k8s_pods", "description": "List pods.", "input_schema": PODS.parameters}
        ],
    }
    question = {"role": "user", "content": [{"type": "text", "text": "Check"}]}
    assert fake_anthropic.sent == [
        {"messages": [question], **common},
        {
            "messages": [
                question,
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": media.id,
                            "name": "list_k8s_pods",
                            "input": {"namespace": "media"},
                        },
                        {
                            "type": "tool_use",
                            "id": db.id,
                            "name": "list_k8s_pods",
                            "input": {"namespace": "db"},
                        },
                    ],
                },
                {  # all results first, in one user turn, then the user's text
                    "role": "user",
                    "content": [
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
                    ],
                },
            ],
            **common,
        },
    ]
    assert second.finish_reason is FinishReason.STOP
    usage = first.usage + second.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (2200, 80)
    cost = load_price_table(None).cost(usage, provider="anthropic", model=second.model)
    assert cost == Cost(usd=Decimal("0.0078"), priced=True)  # $3 and $15 per million


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


def message(content: object, **rest: object) -> Reply:
    """A Messages API answer as the wire carries it, malformed on purpose where asked."""
    body = {
        "id": "msg_odd",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    return Reply(200, {**body, **rest})


async def test_tool_input_that_is_not_an_object_comes_back_as_a_call_to_answer_with_an_error(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(
        message([{"type": "tool_use", "id": "toolu_1", "name": "list_k8s_pods", "input": "{ns"}])
    )

    response = await claude.complete(messages=[UserMessage(content="Pods?")], tools=[PODS])

    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_1", "list_k8s_pods", {})
    assert call.arguments_error == "the arguments must be a JSON object, not str"


async def test_an_answer_without_usage_counts_zero_tokens(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(message([{"type": "text", "text": "Fine."}], usage=None))

    response = await claude.complete(messages=[UserMessage(content="Pods?")])

    assert response.text == "Fine."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (0, 0)


async def test_an_answer_with_no_text_and_no_calls_is_an_empty_answer(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(message([], stop_reason="end_turn"))

    response = await claude.complete(messages=[UserMessage(content="Pods?")])

    assert (response.text, response.tool_calls) == ("", ())
    assert response.finish_reason is FinishReason.STOP


async def test_an_unreadable_answer_is_a_bad_response_not_a_crash(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(Reply(200, {"type": "message"}))

    with pytest.raises(BadResponse, match="anthropic: unreadable answer"):
        await claude.complete(messages=[UserMessage(content="Pods?")])
