"""Retries through each official client library and its fake, on an injected clock.

429 is retried after the provider's own delay (bounded by the caller's deadline), server
errors until the attempts run out, and what cannot succeed fails at once, saying what to do.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from mission_control.errors import MAX_RETRY_AFTER_SECONDS
from mission_control.llm import (
    AuthenticationFailed,
    LLMClient,
    ModelNotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    UserMessage,
)
from mission_control.llm.client import DEFAULT_RATE_LIMIT_PAUSE
from mission_control.llm.provider import ChatProvider
from mission_control.llm.providers.anthropic import AnthropicProvider
from mission_control.llm.providers.gemini import GeminiProvider
from mission_control.llm.providers.ollama import OllamaProvider
from mission_control.llm.ratelimit import RateLimiter
from mission_control.llm.retry import RetryPolicy
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import Reply
from tests.llm.conftest import FakeTime

HI = [UserMessage(content="hi")]
POLICY = RetryPolicy(max_attempts=3, base_delay=1.0, multiplier=2.0, jitter=0.0)


@dataclass
class Rig:
    """One provider's fake, its adapter, and how to script its failures."""

    fake: FakeOllama | FakeGemini | FakeAnthropic
    adapter: ChatProvider
    fail: Callable[..., None]  # fail(reply, times=n)
    answer: Callable[[str], None]
    server_error: Reply
    rate_limited: Callable[[int], Reply]  # seconds -> a 429 asking to wait that long
    permanent: tuple[Reply, type[ProviderError], str]  # reply, error, what the message says

    @property
    def requests(self) -> int:
        return len([r for r in self.fake.requests if r.method == "POST"])


def _rig(name: str) -> Rig:
    if name == "ollama":
        ollama = FakeOllama().start()
        return Rig(
            fake=ollama,
            adapter=OllamaProvider(base_url=ollama.url, model="llama3.1", timeout=5),
            fail=lambda reply, times=1: ollama.enqueue("POST", "/api/chat", *[reply] * times),
            answer=ollama.say,
            server_error=ollama.error(500, "llama runner process has terminated"),
            rate_limited=lambda seconds: Reply(429, {"error": "too many requests"}),
            permanent=(
                ollama.error(404, 'model "llama3.1" not found, try pulling it first'),
                ModelNotFound,
                "run `ollama pull llama3.1`",
            ),
        )
    if name == "gemini":
        gemini = FakeGemini().start()
        return Rig(
            fake=gemini,
            adapter=GeminiProvider(
                api_key=gemini.api_key, model="gemini-2.0-flash", timeout=5, base_url=gemini.url
            ),
            fail=gemini.fail,
            answer=gemini.say,
            server_error=gemini.error(503, "The model is overloaded. Please try again later."),
            rate_limited=lambda seconds: gemini.rate_limited(retry_delay=f"{seconds}s"),
            permanent=(gemini.permission_denied(), AuthenticationFailed, "set GEMINI_API_KEY"),
        )
    claude = FakeAnthropic().start()
    return Rig(
        fake=claude,
        adapter=AnthropicProvider(
            api_key=claude.api_key,
            model="claude-sonnet-4-6",
            timeout=5,
            max_tokens=256,
            base_url=claude.url,
        ),
        fail=claude.fail,
        answer=claude.say,
        server_error=claude.error(529, "overloaded_error", "Overloaded"),
        rate_limited=lambda seconds: claude.rate_limited(retry_after=seconds),
        permanent=(
            claude.error(401, "authentication_error", "invalid x-api-key"),
            AuthenticationFailed,
            "set ANTHROPIC_API_KEY",
        ),
    )


async def _serve(name: str) -> AsyncIterator[Rig]:
    built = _rig(name)
    yield built
    await built.adapter.aclose()
    built.fake.stop()


@pytest.fixture(params=["ollama", "gemini", "anthropic"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for built in _serve(request.param):
        yield built


@pytest.fixture(params=["gemini", "anthropic"])  # Ollama sends no retry delay
async def cloud(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for built in _serve(request.param):
        yield built


def client_for(rig: Rig, fake_time: FakeTime) -> LLMClient:
    limiter = RateLimiter(
        name=rig.adapter.name, requests_per_minute=0, clock=fake_time, sleep=fake_time.sleep
    )
    return LLMClient(
        rig.adapter, limiter=limiter, retry=POLICY, clock=fake_time, sleep=fake_time.sleep
    )


async def test_a_429_is_retried_after_the_delay_the_provider_asked_for(
    cloud: Rig, fake_time: FakeTime
) -> None:
    cloud.fail(cloud.rate_limited(2))
    cloud.answer("Done.")

    response = await client_for(cloud, fake_time).complete(messages=HI, deadline=fake_time.now + 60)

    assert response.text == "Done."
    assert fake_time.sleeps == pytest.approx([2.0])
    assert cloud.requests == 2


async def test_a_429_delay_beyond_the_deadline_fails_at_once_with_the_capped_delay(
    cloud: Rig, fake_time: FakeTime
) -> None:
    cloud.fail(cloud.rate_limited(3600))

    with pytest.raises(RateLimited) as caught:
        await client_for(cloud, fake_time).complete(messages=HI, deadline=fake_time.now + 60)

    assert caught.value.retry_after == MAX_RETRY_AFTER_SECONDS
    assert fake_time.sleeps == []
    assert cloud.requests == 1


async def test_a_huge_429_delay_without_a_deadline_is_capped(
    cloud: Rig, fake_time: FakeTime
) -> None:
    cloud.fail(cloud.rate_limited(999_999_999))
    cloud.answer("Done.")

    response = await client_for(cloud, fake_time).complete(messages=HI, deadline=None)

    assert response.text == "Done."
    assert sum(fake_time.sleeps) == pytest.approx(MAX_RETRY_AFTER_SECONDS)
    assert cloud.requests == 2


async def test_a_429_without_a_delay_still_holds_back_the_other_runs(fake_time: FakeTime) -> None:
    async for ollama in _serve("ollama"):  # Ollama's 429 names no delay
        client = client_for(ollama, fake_time)
        ollama.fail(ollama.rate_limited(0), times=3)
        deadline = fake_time.now + DEFAULT_RATE_LIMIT_PAUSE / 2

        with pytest.raises(RateLimited):
            await client.complete(messages=HI, deadline=deadline)
        assert ollama.requests == 1

        with pytest.raises(RateLimited, match="leaves no slot before the deadline"):
            await client.complete(messages=HI, deadline=deadline)
        assert ollama.requests == 1  # the second run never reached the provider


async def test_server_errors_are_retried_until_the_attempts_run_out(
    rig: Rig, fake_time: FakeTime
) -> None:
    rig.fail(rig.server_error, times=5)

    with pytest.raises(ProviderUnavailable, match="gave up after 3 attempts: the attempt limit"):
        await client_for(rig, fake_time).complete(messages=HI, deadline=fake_time.now + 600)

    assert fake_time.sleeps == pytest.approx([1.0, 2.0])
    assert rig.requests == 3


async def test_what_a_retry_cannot_fix_fails_at_once_saying_what_to_do(
    rig: Rig, fake_time: FakeTime
) -> None:
    reply, error, advice = rig.permanent
    rig.fail(reply, times=3)

    with pytest.raises(error, match=re.escape(advice)):
        await client_for(rig, fake_time).complete(messages=HI, deadline=fake_time.now + 600)

    assert fake_time.sleeps == []
    assert rig.requests == 1


async def test_a_wrong_anthropic_key_is_a_401_that_fails_at_once(
    fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    adapter = AnthropicProvider(
        api_key="sk-ant-wrong",
        model="claude-sonnet-4-6",
        timeout=5,
        max_tokens=256,
        base_url=fake_anthropic.url,
    )
    limiter = RateLimiter(name="anthropic", requests_per_minute=0, clock=fake_time)
    client = LLMClient(
        adapter, limiter=limiter, retry=POLICY, clock=fake_time, sleep=fake_time.sleep
    )
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.complete(messages=HI, deadline=fake_time.now + 600)
    finally:
        await client.aclose()

    assert str(caught.value) == (
        "anthropic refused the API key (authentication_error: invalid x-api-key); "
        "set ANTHROPIC_API_KEY to a valid key"
    )
    assert len(fake_anthropic.requests) == 1
    assert fake_time.sleeps == []
