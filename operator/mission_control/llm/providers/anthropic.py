"""Anthropic Messages API through the ``anthropic`` async client.

The library's own retries are off (``max_retries=0``; we retry in
:mod:`mission_control.llm.retry`). System messages go to the ``system`` parameter; tool
results become ``tool_result`` blocks at the start of the next user turn, tied to their
``tool_use`` block by id, with ``is_error`` set for failed, denied or rejected calls.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import anthropic
from anthropic.types import Message as AnthropicMessage
from anthropic.types import MessageParam, ToolParam, ToolUseBlock

from mission_control.errors import parse_retry_after
from mission_control.llm.errors import (
    AuthenticationFailed,
    BadRequest,
    BadResponse,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from mission_control.llm.messages import (
    AssistantMessage,
    FinishReason,
    LLMResponse,
    Message,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from mission_control.llm.provider import ProviderHealth, call_provider, check_provider
from mission_control.settings import Provider

__all__ = ["AnthropicProvider", "anthropic_tools", "to_anthropic_request"]

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "tool_use": FinishReason.TOOL_CALLS,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "refusal": FinishReason.CONTENT_FILTER,
}


class AnthropicProvider:
    """Chat with Claude models with one API key."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        timeout: float,
        max_tokens: int,
        base_url: str | None = None,
    ) -> None:
        self._model = model
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    @property
    def name(self) -> Provider:
        return "anthropic"

    @property
    def default_model(self) -> str:
        return self._model

    async def complete(
        self,
        *,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] = (),
        model: str | None = None,
        deadline: float | None = None,
    ) -> LLMResponse:
        model = model or self._model
        system, wire_messages = to_anthropic_request(messages)
        wire_tools = anthropic_tools(tools)
        reply, latency = await call_provider(
            lambda: self._client.messages.create(
                model=model,
                max_tokens=self._max_tokens,
                messages=wire_messages,
                system=system if system else anthropic.omit,
                tools=wire_tools if wire_tools else anthropic.omit,
            ),
            provider="anthropic",
            time_limit=self._timeout,
            deadline=deadline,
            translate=functools.partial(_translate, model=model),
        )
        try:
            return _response(reply, latency=latency)
        except (ValueError, TypeError, AttributeError) as exc:  # the library does not validate
            raise BadResponse(f"anthropic: unreadable answer: {exc}") from exc

    async def check(self) -> ProviderHealth:
        async def probe() -> str | None:
            await self._client.models.retrieve(self._model)
            return None

        return await check_provider(
            probe,
            provider="anthropic",
            time_limit=min(self._timeout, 10.0),
            translate=functools.partial(_translate, model=self._model),
        )

    async def aclose(self) -> None:
        await self._client.close()


def _translate(exc: Exception, *, model: str) -> ProviderError | None:
    """The one place where the ``anthropic`` library's exceptions become ours."""
    if isinstance(exc, anthropic.APIStatusError):
        status, kind = exc.status_code, exc.type or "error"
        detail = exc.api_message or exc.message
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        if status in (401, 403):
            return AuthenticationFailed(
                f"anthropic refused the API key ({kind}: {detail}); "
                "set ANTHROPIC_API_KEY to a valid key"
            )
        if status == 404:
            return ModelNotFound(
                f"anthropic: model {model!r} not found ({detail}); "
                "set ANTHROPIC_MODEL or the Task's model to an available model"
            )
        if status == 429:
            return RateLimited(f"anthropic: rate limited: {detail}", retry_after=retry_after)
        if status in (408, 504):
            return ProviderTimeout(f"anthropic: {kind}: {detail}", retry_after=retry_after)
        if status >= 500:  # 529 is overloaded_error
            return ProviderUnavailable(f"anthropic: {kind}: {detail}", retry_after=retry_after)
        return BadRequest(f"anthropic rejected the request ({status} {kind}): {detail}")
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderTimeout("anthropic: no answer in time")
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderUnavailable(f"anthropic: connection failed: {exc.message}")
    if isinstance(exc, anthropic.APIResponseValidationError):
        return BadResponse(f"anthropic: unreadable answer: {exc.message}")
    return None


def anthropic_tools(tools: Sequence[ToolDefinition]) -> list[ToolParam]:
    """Neutral tool definitions as the Messages API's ``tools``."""
    return [
        {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
        for tool in tools
    ]


def to_anthropic_request(messages: Sequence[Message]) -> tuple[str, list[MessageParam]]:
    """Neutral messages as the ``system`` text and Messages API ``messages``."""
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []

    def add(role: str, block: dict[str, Any]) -> None:
        if turns and turns[-1][0] == role:  # consecutive turns of one role merge
            turns[-1][1].append(block)
        else:
            turns.append((role, [block]))

    for message in messages:
        match message:
            case SystemMessage():
                system.append(message.content)
            case UserMessage():
                add("user", {"type": "text", "text": message.content})
            case AssistantMessage():
                if message.content:  # the API rejects empty text blocks
                    add("assistant", {"type": "text", "text": message.content})
                for call in message.tool_calls:
                    add(
                        "assistant",
                        {
                            "type": "tool_use",
                            "id": call.id,
                            "name": call.name,
                            "input": call.arguments,
                        },
                    )
            case ToolResultMessage():
                add(
                    "user",
                    {
                        "type": "tool_result",
                        "tool_use_id": message.tool_call_id,
                        "content": message.content,
                        "is_error": message.is_error,
                    },
                )
    wire: list[MessageParam] = [{"role": role, "content": blocks} for role, blocks in turns]  # type: ignore[misc]
    return "\n\n".join(system), wire


def _response(reply: AnthropicMessage, *, latency: float) -> LLMResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in reply.content or ():
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(_tool_call(block))
    usage = reply.usage  # the library does not validate answers: it may be missing
    prompt = (
        (usage.input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
        if usage is not None
        else 0
    )
    return LLMResponse(
        provider="anthropic",
        model=reply.model,
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=Usage(
            prompt_tokens=prompt,
            completion_tokens=(usage.output_tokens or 0) if usage is not None else 0,
        ),
        finish_reason=_FINISH.get(reply.stop_reason or "end_turn", FinishReason.OTHER),
        latency_seconds=latency,
        # as received, even where it breaks the schema (the library does not validate)
        raw=reply.model_dump(mode="json", exclude_none=True, warnings=False),
    )


def _tool_call(block: ToolUseBlock) -> ToolCall:
    arguments: object = block.input
    if isinstance(arguments, dict):
        return ToolCall(id=block.id, name=block.name, arguments=arguments)
    problem = f"the arguments must be a JSON object, not {type(arguments).__name__}"
    return ToolCall(id=block.id, name=block.name, arguments_error=problem)
