"""The client the run loop calls: shared rate limit, retries within the deadline, repair."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from mission_control.llm import (
    Attempt,
    LLMClient,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
    ToolDefinition,
    UserMessage,
)
from mission_control.llm.providers.anthropic import AnthropicProvider
from mission_control.llm.providers.ollama import OllamaProvider
from mission_control.llm.ratelimit import RateLimiter
from mission_control.llm.retry import RetryPolicy
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import Reply
from tests.llm.conftest import FakeTime

HI = [UserMessage(content="hi")]
PODS = ToolDefinition(name="list_k8s_pods", description="List pods.")


@pytest.fixture
async def claude(fake_anthropic: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(
        api_key=fake_anthropic.api_key,
        model="claude-sonnet-4-6",
        timeout=5,
        max_tokens=256,
        base_url=fake_anthropic.url,
    )
    yield provider
    await provider.aclose()


def client_for(
    adapter: AnthropicProvider | OllamaProvider,
    fake_time: FakeTime,
    *,
    requests_per_minute: int = 0,
    attempts: list[Attempt] | None = None,
    repair: bool = False,
) -> LLMClient:
    limiter = RateLimiter(
        name=adapter.name,
        requests_per_minute=requests_per_minute,
        clock=fake_time,
        sleep=fake_time.sleep,
    )
    return LLMClient(
        adapter,
        limiter=limiter,
        retry=RetryPolicy(jitter=0.0),
        repair=repair,
        on_attempt=None if attempts is None else attempts.append,
        clock=fake_time,
        sleep=fake_time.sleep,
    )


async def test_a_rate_limited_request_is_retried_after_the_providers_delay(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    attempts: list[Attempt] = []
    client = client_for(claude, fake_time, attempts=attempts)
    fake_anthropic.fail(fake_anthropic.rate_limited(retry_after=3))
    fake_anthropic.say("Done.")

    response = await client.complete(messages=HI)

    assert response.text == "Done."
    assert fake_time.sleeps == pytest.approx([3.0])
    assert [attempt.outcome for attempt in attempts] == ["RateLimited", "ok"]
    assert attempts[1].response == response


async def test_a_429_holds_back_the_other_runs_on_the_same_provider(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    client = client_for(claude, fake_time)
    fake_anthropic.fail(fake_anthropic.rate_limited(retry_after=30), times=3)

    with pytest.raises(RateLimited):
        await client.complete(messages=HI, deadline=fake_time.now + 10)

    assert len(fake_anthropic.sent) == 1
    with pytest.raises(RateLimited, match="leaves no slot before the deadline"):
        await client.complete(messages=HI, deadline=fake_time.now + 10)
    assert len(fake_anthropic.sent) == 1  # the second run never hit the provider


async def test_server_errors_are_retried_until_the_deadline(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    client = client_for(claude, fake_time)
    fake_anthropic.fail(fake_anthropic.error(529, "overloaded_error", "Overloaded"), times=10)

    with pytest.raises(ProviderUnavailable, match="gave up after 3 attempts"):
        await client.complete(messages=HI, deadline=time.monotonic() + 5)

    assert len(fake_anthropic.sent) == 3
    assert fake_time.sleeps == pytest.approx([1.0, 2.0])


async def test_a_permanent_error_is_not_retried(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    client = client_for(claude, fake_time)

    with pytest.raises(ModelNotFound):
        await client.complete(messages=HI, model="claude-unknown")

    assert len(fake_anthropic.sent) == 1


async def test_requests_beyond_the_local_limit_wait_their_turn(
    claude: AnthropicProvider, fake_time: FakeTime
) -> None:
    client = client_for(claude, fake_time, requests_per_minute=2)

    for _ in range(3):
        await client.complete(messages=HI)

    assert fake_time.sleeps == pytest.approx([60.0])


async def test_tool_calls_written_as_text_are_repaired_when_asked(
    fake_ollama: FakeOllama, fake_time: FakeTime
) -> None:
    adapter = OllamaProvider(base_url=fake_ollama.url, model="llama3.1", timeout=5)
    text = '```json\n{"name": "list_k8s_pods", "arguments": {"namespace": "media"}}\n```'
    fake_ollama.say(text)
    fake_ollama.say(text)
    try:
        repaired = await client_for(adapter, fake_time, repair=True).complete(
            messages=HI, tools=[PODS]
        )
        plain = await client_for(adapter, fake_time).complete(messages=HI, tools=[PODS])
    finally:
        await adapter.aclose()

    assert [(call.name, call.repaired) for call in repaired.tool_calls] == [("list_k8s_pods", True)]
    assert plain.tool_calls == ()
    assert plain.text == text


async def test_the_default_model_is_used_when_none_is_asked_for(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    client = client_for(claude, fake_time)

    response = await client.complete(messages=HI)

    assert client.default_model == "claude-sonnet-4-6"
    assert response.model == "claude-sonnet-4-6"
    assert fake_anthropic.sent[0]["model"] == "claude-sonnet-4-6"


async def test_cancelling_a_run_abandons_the_request_in_flight(
    claude: AnthropicProvider, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    client = client_for(claude, fake_time)
    # The answer never comes in the life of the test: only abandoning the request ends the task.
    fake_anthropic.enqueue("POST", "/v1/messages", Reply(200, {}, delay=3600))
    task = asyncio.create_task(client.complete(messages=HI))
    for _ in range(500):  # until the request is in flight
        if fake_anthropic.requests:
            break
        await asyncio.sleep(0.01)
    assert fake_anthropic.requests, "the request never reached the fake"

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake_time.sleeps == []  # cancellation is not a failure to retry
