"""Ollama (``/api/chat``) through the ``ollama`` AsyncClient.

Answers are streamed by default (NDJSON, one chunk per line) and assembled here into one
response: the final chunk carries ``done_reason`` and the token counts, the text comes in
pieces, tool calls in chunks of their own. Streaming is what lets a run notice a stalled local
model: when no chunk arrives for ``stall_seconds`` (``OLLAMA_STALL_SECONDS``) the request is
abandoned as a :class:`~mission_control.llm.errors.ProviderTimeout`, long before the overall
``timeout`` (a slow but working model keeps sending chunks). Ollama sends nothing before the
model is loaded and the prompt evaluated, so the stall limit must exceed that time. With
``stall_seconds=None`` one non-streamed request waits for the whole answer.

Tool schemas are lowered to what Ollama can carry (:mod:`.ollama_schema`).

Tool call ids: newer servers send ``id`` (and ``function.index``), older ones neither, and the
client library drops both either way; tool results are tied to calls by ``tool_name``. Each
call therefore gets an id derived from its answer (timestamp, position, name, arguments), the
same for both server generations and again when the journaled answer is read back.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Sequence
from typing import Any

import httpx
import ollama
import pydantic

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
from mission_control.llm.models import ModelInfo
from mission_control.llm.provider import ProviderHealth, call_provider, check_provider
from mission_control.llm.providers.ollama_schema import ollama_parameters
from mission_control.settings import Provider

__all__ = ["OllamaProvider", "ollama_parameters", "to_ollama_messages"]


class OllamaProvider:
    """Chat with models on one Ollama server."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        timeout: float,
        num_ctx: int | None = None,
        stall_seconds: float | None = 120.0,
    ) -> None:
        # Credentials in the URL (a proxy's basic auth) go to a header: the library would drop
        # them, and the URL is quoted in error messages, which the journal keeps.
        self._base_url, credentials = _split_credentials(base_url.rstrip("/"))
        # The library sends OLLAMA_API_KEY from the process environment as a bearer token to
        # any host; _OwnCredentials sends only what this adapter was configured with.
        auth = _OwnCredentials(credentials)
        self._model = model
        self._timeout = timeout
        self._stall_seconds = stall_seconds
        self._options: dict[str, Any] = {} if num_ctx is None else {"num_ctx": num_ctx}
        self._client = ollama.AsyncClient(host=self._base_url, timeout=timeout, auth=auth)

    def __repr__(self) -> str:
        return f"OllamaProvider(base_url={self._base_url!r}, model={self._model!r})"

    @property
    def name(self) -> Provider:
        return "ollama"

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
        wire_messages = to_ollama_messages(messages)
        wire_tools = [_tool(tool) for tool in tools]
        reply, latency = await call_provider(
            lambda: self._chat(model=model, messages=wire_messages, tools=wire_tools),
            provider="ollama",
            time_limit=self._timeout,
            deadline=deadline,
            translate=functools.partial(self._translate, model=model),
        )
        return _response(reply, model=model, latency=latency)

    async def _chat(
        self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ollama.ChatResponse:
        options = self._options or None
        if self._stall_seconds is None:
            return await self._client.chat(
                model=model, messages=messages, tools=tools, stream=False, options=options
            )
        chunks = await self._client.chat(
            model=model, messages=messages, tools=tools, stream=True, options=options
        )
        return await assemble_stream(chunks, stall_seconds=self._stall_seconds)

    async def check(self) -> ProviderHealth:
        async def probe() -> str | None:
            listing = await self._client.list()
            names = {entry.model for entry in listing.models if entry.model}
            wanted = self._model if ":" in self._model else f"{self._model}:latest"
            if self._model in names or wanted in names:
                return None
            return (
                f"ollama: model {self._model!r} is not pulled on {self._base_url}; "
                f"run `ollama pull {self._model}` there (or set OLLAMA_MODEL)"
            )

        return await check_provider(
            probe,
            provider="ollama",
            time_limit=min(self._timeout, 10.0),
            translate=functools.partial(self._translate, model=self._model),
        )

    async def describe(self, model: str) -> ModelInfo:
        """What the server says of ``model`` (``/api/show``): pulled, tools, context window.

        The context window is the one requests get: ``OLLAMA_NUM_CTX``, else the model's own
        ``num_ctx`` parameter, else unknown (the server's default applies). Raises
        :class:`~mission_control.llm.errors.ProviderError` when the server cannot answer.
        """

        async def show() -> ollama.ShowResponse | None:
            try:
                return await self._client.show(model)
            except ollama.ResponseError as exc:
                if exc.status_code == 404:
                    return None
                raise

        shown, _ = await call_provider(
            show,
            provider="ollama",
            time_limit=min(self._timeout, 10.0),
            deadline=None,
            translate=functools.partial(self._translate, model=model),
        )
        if shown is None:
            return ModelInfo(provider="ollama", model=model, present=False)
        window = self._options.get("num_ctx") or _num_ctx(shown.parameters or "")
        return ModelInfo(
            provider="ollama",
            model=model,
            present=True,
            # Servers before 0.6.4 do not report capabilities: unknown, not "no tools".
            tools=None if shown.capabilities is None else "tools" in shown.capabilities,
            context_window=window,
        )

    async def aclose(self) -> None:
        await self._client.close()  # type: ignore[no-untyped-call]

    def _translate(self, exc: Exception, *, model: str) -> ProviderError | None:
        """The one place where the ``ollama`` library's exceptions become ours."""
        if isinstance(exc, ollama.ResponseError):
            status, detail = exc.status_code, exc.error
            if status == 404 and "model" in detail:
                return ModelNotFound(
                    f"ollama: {detail}; run `ollama pull {model}` on {self._base_url}"
                )
            if status in (401, 403):
                return AuthenticationFailed(
                    f"ollama: {self._base_url} refused access ({status}: {detail}); "
                    "point OLLAMA_BASE_URL at a server (or proxy) that lets the operator in"
                )
            if status == 429:
                return RateLimited(f"ollama: too many requests: {detail}")
            if status < 0:  # an {"error": ...} line after the stream had started
                return ProviderUnavailable(f"ollama: the answer broke off: {detail}")
            if status >= 500:
                return ProviderUnavailable(f"ollama: server error {status}: {detail}")
            return BadRequest(f"ollama rejected the request ({status}): {detail}")
        # the library turns httpx.ConnectError into ConnectionError, but not when streaming
        if isinstance(exc, (ConnectionError, httpx.ConnectError)):
            return ProviderUnavailable(
                f"ollama: cannot connect to {self._base_url} (OLLAMA_BASE_URL); is Ollama running?"
            )
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeout(f"ollama: no answer from {self._base_url} in time")
        if isinstance(exc, httpx.TransportError):
            return ProviderUnavailable(f"ollama: connection to {self._base_url} failed: {exc}")
        if isinstance(exc, ollama.RequestError):
            return BadRequest(f"ollama: invalid request: {exc.error}")
        if isinstance(exc, (pydantic.ValidationError, json.JSONDecodeError)):
            return BadResponse(f"ollama: unreadable answer from {self._base_url}: {exc}")
        return None


class _OwnCredentials(httpx.Auth):
    """Authorization from the adapter's own settings only: the URL's basic auth, or none.

    Drops any ``Authorization`` header the library added by itself (``OLLAMA_API_KEY``).
    """

    def __init__(self, credentials: httpx.BasicAuth | None) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.pop("authorization", None)
        if self._credentials is None:
            yield request
        else:
            yield from self._credentials.auth_flow(request)


def _split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``url`` without its ``user:password@`` part, and that part as basic auth."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    auth = httpx.BasicAuth(
        urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or "")
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), auth


async def assemble_stream(
    chunks: AsyncIterator[ollama.ChatResponse], *, stall_seconds: float
) -> ollama.ChatResponse:
    """One response from a streamed answer; raises ProviderTimeout when a chunk is overdue."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ollama.Message.ToolCall] = []
    last: ollama.ChatResponse | None = None
    try:
        while True:
            try:
                async with asyncio.timeout(stall_seconds):
                    last = await anext(chunks)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise ProviderTimeout(
                    f"ollama: the model sent nothing for {stall_seconds:g} s and was abandoned; "
                    "check the Ollama server's load, or raise OLLAMA_STALL_SECONDS"
                ) from None
            text.append(last.message.content or "")
            thinking.append(last.message.thinking or "")
            calls.extend(last.message.tool_calls or ())
    finally:
        if isinstance(chunks, AsyncGenerator):  # release the connection of an abandoned stream
            await chunks.aclose()
    if last is None or not last.done:
        raise BadResponse("ollama: the streamed answer ended before its final chunk")
    message = ollama.Message(
        role="assistant",
        content="".join(text),
        thinking="".join(thinking) or None,
        tool_calls=calls or None,
    )
    return last.model_copy(update={"message": message})


def to_ollama_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Neutral messages as ``/api/chat`` messages."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        match message:
            case SystemMessage() | UserMessage():
                wire.append({"role": message.role, "content": message.content})
            case AssistantMessage():
                entry: dict[str, Any] = {"role": "assistant", "content": message.content}
                if message.tool_calls:
                    entry["tool_calls"] = [
                        {"function": {"name": call.name, "arguments": call.arguments}}
                        for call in message.tool_calls
                    ]
                wire.append(entry)
            case ToolResultMessage():
                content = f"Error: {message.content}" if message.is_error else message.content
                wire.append({"role": "tool", "tool_name": message.name, "content": content})
    return wire


def _tool(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": ollama_parameters(tool.parameters),
        },
    }


def _num_ctx(parameters: str) -> int | None:
    """The ``num_ctx`` line of a model's parameters (``/api/show``), if any."""
    for line in parameters.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "num_ctx" and value.strip().isdigit():
            return int(value.strip())
    return None


def _response(reply: ollama.ChatResponse, *, model: str, latency: float) -> LLMResponse:
    message = reply.message
    calls = tuple(
        ToolCall(
            id=_call_id(reply, position=position, call=call),
            name=call.function.name,
            arguments=dict(call.function.arguments),
        )
        for position, call in enumerate(message.tool_calls or ())
    )
    if reply.done_reason == "length":
        finish = FinishReason.LENGTH
    elif calls:
        finish = FinishReason.TOOL_CALLS
    elif reply.done_reason in (None, "stop"):
        finish = FinishReason.STOP
    else:
        finish = FinishReason.OTHER
    return LLMResponse(
        provider="ollama",
        model=reply.model or model,
        text=message.content or "",
        tool_calls=calls,
        usage=Usage(
            prompt_tokens=reply.prompt_eval_count or 0, completion_tokens=reply.eval_count or 0
        ),
        finish_reason=finish,
        latency_seconds=latency,
        raw=reply.model_dump(mode="json", exclude_none=True),
    )


def _call_id(reply: ollama.ChatResponse, *, position: int, call: ollama.Message.ToolCall) -> str:
    """An id for a tool call, derived from the answer (see the module docstring)."""
    if reply.created_at is None:  # Ollama always sends it; without it, uniqueness comes first
        return new_tool_call_id()
    seed = [reply.created_at, position, call.function.name, call.function.arguments]
    digest = hashlib.sha256(json.dumps(seed, sort_keys=True, default=str).encode()).hexdigest()
    return f"call_{digest[:24]}"
