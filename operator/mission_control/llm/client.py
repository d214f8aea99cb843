"""What the run loop calls: a provider adapter behind its shared rate limit and retries.

:class:`LLMClient` is itself a :class:`~mission_control.llm.provider.ChatProvider`. Each
attempt first takes a slot from the provider's :class:`RateLimiter` (shared by every run in
the process), then asks the adapter. Temporary failures are retried with backoff within the
caller's deadline; every 429 also holds back the other runs, for its ``retry_after`` or, when
it names none, for :data:`DEFAULT_RATE_LIMIT_PAUSE` seconds. For providers
whose models tend to write tool calls as text (Ollama), such text is repaired into tool calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from mission_control.llm.errors import ProviderError, RateLimited
from mission_control.llm.messages import LLMResponse, Message, ToolDefinition
from mission_control.llm.provider import ChatProvider, ProviderHealth
from mission_control.llm.ratelimit import RateLimiter
from mission_control.llm.repair import repair_tool_calls
from mission_control.llm.retry import RetryPolicy, retry_call
from mission_control.settings import Provider

__all__ = ["DEFAULT_RATE_LIMIT_PAUSE", "Attempt", "LLMClient"]

#: How long a 429 without a usable delay holds back every run of the provider, in seconds.
DEFAULT_RATE_LIMIT_PAUSE = 5.0


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One request to a provider, successful or not (for metrics and logs)."""

    provider: str
    model: str
    #: "ok", or the name of the ProviderError subclass that ended the attempt.
    outcome: str
    latency_seconds: float
    response: LLMResponse | None = None


class LLMClient:
    """Rate-limited, retrying access to one provider."""

    def __init__(
        self,
        adapter: ChatProvider,
        *,
        limiter: RateLimiter,
        retry: RetryPolicy | None = None,
        repair: bool = False,
        on_attempt: Callable[[Attempt], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._adapter = adapter
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._repair = repair
        self._on_attempt = on_attempt
        self._clock = clock
        self._sleep = sleep

    @property
    def name(self) -> Provider:
        return self._adapter.name

    @property
    def default_model(self) -> str:
        return self._adapter.default_model

    @property
    def adapter(self) -> ChatProvider:
        """The provider adapter behind the limiter and retries."""
        return self._adapter

    async def complete(
        self,
        *,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] = (),
        model: str | None = None,
        deadline: float | None = None,
    ) -> LLMResponse:
        """The model's answer; retried on temporary failures until ``deadline``.

        Raises :class:`~mission_control.llm.errors.ProviderError` when it cannot get one.
        """
        model = model or self.default_model

        async def attempt() -> LLMResponse:
            await self._limiter.acquire(deadline=deadline)
            started = self._clock()
            try:
                response = await self._adapter.complete(
                    messages=messages, tools=tools, model=model, deadline=deadline
                )
            except ProviderError as exc:
                self._report(model, type(exc).__name__, self._clock() - started)
                if isinstance(exc, RateLimited):
                    self._limiter.defer(exc.retry_after or DEFAULT_RATE_LIMIT_PAUSE)
                raise
            self._report(model, "ok", response.latency_seconds, response)
            return response

        response = await retry_call(
            attempt, policy=self._retry, deadline=deadline, clock=self._clock, sleep=self._sleep
        )
        if self._repair:
            response = repair_tool_calls(response, tools=tools)
        return response

    async def check(self) -> ProviderHealth:
        return await self._adapter.check()

    async def aclose(self) -> None:
        await self._adapter.aclose()

    def _report(
        self, model: str, outcome: str, latency: float, response: LLMResponse | None = None
    ) -> None:
        if self._on_attempt is not None:
            self._on_attempt(
                Attempt(
                    provider=self.name,
                    model=model,
                    outcome=outcome,
                    latency_seconds=latency,
                    response=response,
                )
            )
