"""Google Gemini (Generative Language API ``v1beta``) through the ``google-genai`` async client.

The API version is pinned, automatic function calling is off (the run loop executes tools,
under policy), and the library's own retries are off (``HttpRetryOptions(attempts=1)``; we
retry in :mod:`mission_control.llm.retry`). The client runs on an httpx client we own.
Tool schemas go as ``parameters_json_schema`` (plain JSON schema, ``$ref`` and ``anyOf``
included). Function responses are tied to calls by name and id; thought signatures that
Gemini attaches to function calls are kept on the :class:`ToolCall` and sent back, as
Gemini 3 models require.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Sequence
from typing import Any

import httpx
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
    new_tool_call_id,
)
from mission_control.llm.provider import ProviderHealth, call_provider, check_provider
from mission_control.settings import Provider

__all__ = ["API_VERSION", "GeminiProvider", "to_gemini_request"]

API_VERSION = "v1beta"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")
_FINISH = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "MALFORMED_FUNCTION_CALL": FinishReason.MALFORMED_TOOL_CALL,
    "UNEXPECTED_TOOL_CALL": FinishReason.MALFORMED_TOOL_CALL,
    "TOO_MANY_TOOL_CALLS": FinishReason.MALFORMED_TOOL_CALL,
    **dict.fromkeys(
        ("SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"),
        FinishReason.CONTENT_FILTER,
    ),
}


class GeminiProvider:
    """Chat with Gemini models with one API key."""

    def __init__(
        self, *, api_key: str, model: str, timeout: float, base_url: str | None = None
    ) -> None:
        self._model = model
        self._timeout = timeout
        self._http = httpx.AsyncClient(timeout=timeout)
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=API_VERSION,
                timeout=int(timeout * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
            ),
        )

    @property
    def name(self) -> Provider:
        return "gemini"

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
        contents, config = to_gemini_request(messages, tools)
        reply, latency = await call_provider(
            lambda: self._client.aio.models.generate_content(
                model=model, contents=contents, config=config
            ),
            provider="gemini",
            time_limit=self._timeout,
            deadline=deadline,
            translate=functools.partial(_translate, model=model),
        )
        try:
            return _response(reply, model=model, latency=latency)
        except (ValueError, TypeError) as exc:
            raise BadResponse(f"gemini: unreadable answer: {exc}") from exc

    async def check(self) -> ProviderHealth:
        async def probe() -> str | None:
            await self._client.aio.models.get(model=self._model)
            return None

        return await check_provider(
            probe,
            provider="gemini",
            time_limit=min(self._timeout, 10.0),
            translate=functools.partial(_translate, model=self._model),
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
        await self._http.aclose()


def _translate(exc: Exception, *, model: str) -> ProviderError | None:
    """The one place where ``google-genai`` (and its httpx transport) exceptions become ours."""
    if isinstance(exc, genai_errors.APIError):
        code, status = exc.code, exc.status or ""
        detail = exc.message or str(exc)
        retry_after = _retry_delay(exc)
        if _has_reason(exc, "API_KEY_INVALID"):  # a 400 INVALID_ARGUMENT, not a 401
            return AuthenticationFailed(
                f"gemini refused the API key ({code} {status}: {detail}); "
                "set GEMINI_API_KEY to a valid key"
            )
        if code in (401, 403):
            return AuthenticationFailed(
                f"gemini denied access ({code} {status}: {detail}); set GEMINI_API_KEY to a key "
                "of a project that may use the Generative Language API (Google AI Studio keys do)"
            )
        if code == 404:
            return ModelNotFound(
                f"gemini: model {model!r} not found ({detail}); "
                "set GEMINI_MODEL or the Task's model to an available model"
            )
        if code == 429:
            return RateLimited(
                f"gemini: rate limited ({status}): {detail}", retry_after=retry_after
            )
        if code in (408, 504):
            return ProviderTimeout(f"gemini: {code} {status}: {detail}", retry_after=retry_after)
        if code >= 500:
            return ProviderUnavailable(
                f"gemini: {code} {status}: {detail}", retry_after=retry_after
            )
        return BadRequest(
            f"gemini rejected the request ({code} {status}): {detail}; retrying will not help: "
            "correct what it names (a tool's argument schema, the conversation, or the model)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout("gemini: no answer in time")
    if isinstance(exc, httpx.TransportError):
        return ProviderUnavailable(f"gemini: connection failed: {exc!r}")
    if isinstance(exc, (pydantic.ValidationError, genai_errors.UnknownApiResponseError)):
        return BadResponse(f"gemini: unreadable answer: {exc}")
    return None


def _details(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [item for item in details or () if isinstance(item, dict)]


def _has_reason(exc: genai_errors.APIError, reason: str) -> bool:
    return any(item.get("reason") == reason for item in _details(exc))


def _retry_delay(exc: genai_errors.APIError) -> float | None:
    """Seconds from ``google.rpc.RetryInfo`` (``"retryDelay": "2s"``), else ``Retry-After``."""
    for item in _details(exc):
        if str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.fullmatch(str(item.get("retryDelay", "")))
            if match:
                return parse_retry_after(match.group(1))
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return parse_retry_after(headers.get("retry-after")) if headers is not None else None


def to_gemini_request(
    messages: Sequence[Message], tools: Sequence[ToolDefinition]
) -> tuple[list[types.Content], types.GenerateContentConfig]:
    """Neutral messages and tools as ``generateContent`` contents and config."""
    system: list[str] = []
    contents: list[types.Content] = []

    def add(role: str, part: types.Part) -> None:
        if contents and contents[-1].role == role:  # consecutive turns of one role merge
            (contents[-1].parts or []).append(part)
        else:
            contents.append(types.Content(role=role, parts=[part]))

    for message in messages:
        match message:
            case SystemMessage():
                system.append(message.content)
            case UserMessage():
                add("user", types.Part(text=message.content))
            case AssistantMessage():
                if message.content:
                    add("model", types.Part(text=message.content))
                for call in message.tool_calls:
                    add("model", _call_part(call))
            case ToolResultMessage():
                key = "error" if message.is_error else "output"
                response = types.FunctionResponse(
                    id=message.tool_call_id, name=message.name, response={key: message.content}
                )
                add("user", types.Part(function_response=response))
    config = types.GenerateContentConfig(
        system_instruction="\n\n".join(system) if system else None,
        tools=[types.Tool(function_declarations=[_declaration(tool) for tool in tools])]
        if tools
        else None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    return contents, config


def _call_part(call: ToolCall) -> types.Part:
    return types.Part(
        function_call=types.FunctionCall(id=call.id, name=call.name, args=call.arguments),
        thought_signature=base64.b64decode(call.signature) if call.signature else None,
    )


def _declaration(tool: ToolDefinition) -> types.FunctionDeclaration:
    return types.FunctionDeclaration(
        name=tool.name, description=tool.description, parameters_json_schema=tool.parameters
    )


def _response(reply: types.GenerateContentResponse, *, model: str, latency: float) -> LLMResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    finish = FinishReason.CONTENT_FILTER  # no candidate at all: the prompt was blocked
    if reply.candidates:
        candidate = reply.candidates[0]
        for part in (candidate.content.parts if candidate.content else None) or ():
            if part.function_call is not None:
                calls.append(_tool_call(part.function_call, signature=part.thought_signature))
            elif part.text and not part.thought:
                texts.append(part.text)
        reason = candidate.finish_reason or "STOP"
        finish = _FINISH.get(getattr(reason, "value", reason), FinishReason.OTHER)
        if finish is FinishReason.STOP and calls:
            finish = FinishReason.TOOL_CALLS
    meta = reply.usage_metadata or types.GenerateContentResponseUsageMetadata()
    usage = Usage(
        prompt_tokens=(meta.prompt_token_count or 0) + (meta.tool_use_prompt_token_count or 0),
        completion_tokens=(meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
    )
    return LLMResponse(
        provider="gemini",
        model=reply.model_version or model,
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=usage,
        finish_reason=finish,
        latency_seconds=latency,
        raw=reply.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"sdk_http_response", "automatic_function_calling_history"},
        ),
    )


def _tool_call(call: types.FunctionCall, *, signature: bytes | None) -> ToolCall:
    if not call.name:
        raise ValueError("a function call without a name")
    return ToolCall(
        id=call.id or new_tool_call_id(),
        name=call.name,
        arguments=dict(call.args or {}),
        signature=base64.b64encode(signature).decode() if signature else None,
    )
