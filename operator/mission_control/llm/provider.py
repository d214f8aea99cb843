"""The interface every provider adapter implements, and the plumbing they share.

An adapter maps neutral messages and tool definitions to one wire API and back, makes one
attempt per call, and translates its client library's exceptions into
:mod:`mission_control.llm.errors` in one function. Rate limits, retries and repair of
tool calls live above adapters, in :class:`mission_control.llm.client.LLMClient`.

Deadlines are absolute :func:`time.monotonic` readings, the same clock asyncio uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from mission_control.llm.errors import ProviderError, ProviderTimeout
from mission_control.llm.messages import LLMResponse, Message, ToolDefinition
from mission_control.settings import Provider

__all__ = ["ChatProvider", "ProviderHealth", "call_provider", "check_provider"]

T = TypeVar("T")
Translate = Callable[[Exception], ProviderError | None]


@dataclass(frozen=True, kw_only=True)
class ProviderHealth:
    """What the health endpoint reports for one provider."""

    configured: bool
    reachable: bool
    message: str = ""


class ChatProvider(Protocol):
    """Send a conversation and tool definitions to a model; get its answer."""

    @property
    def name(self) -> Provider: ...

    @property
    def default_model(self) -> str: ...

    async def complete(
        self,
        *,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] = (),
        model: str | None = None,
        deadline: float | None = None,
    ) -> LLMResponse:
        """One answer of ``model`` (default: the configured one), before ``deadline``.

        Every failure of the provider raises a :class:`~mission_control.llm.errors.ProviderError`
        subclass; any other exception is a bug and propagates as such.
        """
        ...

    async def check(self) -> ProviderHealth:
        """Whether the provider answers and the default model exists; never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


async def call_provider(
    call: Callable[[], Awaitable[T]],
    *,
    provider: str,
    time_limit: float,
    deadline: float | None,
    translate: Translate,
) -> tuple[T, float]:
    """Run one client-library call within ``time_limit`` seconds and ``deadline``.

    Returns its result and latency in seconds.

    Exceptions are translated by the adapter's ``translate`` (one place per adapter); what it
    does not recognise propagates unchanged, so bugs stay visible.
    """
    timeout = time_limit if deadline is None else min(time_limit, deadline - time.monotonic())
    if timeout <= 0:
        raise ProviderTimeout(f"{provider}: the deadline passed before the request could be sent")
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            result = await call()
    except TimeoutError as exc:
        raise ProviderTimeout(f"{provider}: no answer within {timeout:.1f} s") from exc
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc
    return result, time.monotonic() - started


async def check_provider(
    probe: Callable[[], Awaitable[str | None]],
    *,
    provider: str,
    time_limit: float,
    translate: Translate,
) -> ProviderHealth:
    """Run ``probe`` (it returns a problem in words, or None) and report health; never raises."""
    try:
        problem, _ = await call_provider(
            probe, provider=provider, time_limit=time_limit, deadline=None, translate=translate
        )
    except ProviderError as exc:
        return ProviderHealth(configured=True, reachable=False, message=str(exc))
    except Exception as exc:  # health must report, not crash: an untranslated failure too
        message = f"{provider}: unexpected {type(exc).__name__}: {exc}"
        return ProviderHealth(configured=True, reachable=False, message=message)
    if problem is not None:
        return ProviderHealth(configured=True, reachable=False, message=problem)
    return ProviderHealth(configured=True, reachable=True, message="")
