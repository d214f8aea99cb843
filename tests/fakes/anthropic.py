"""A fake Anthropic Messages API: ``POST /v1/messages`` and ``GET /v1/models/{id}``.

It checks requests the way the API does: the key (``x-api-key`` or a bearer token), the
``anthropic-version`` header, required fields (``model``, ``max_tokens``, ``messages``),
roles, non-empty text blocks, tool definitions, and that every ``tool_use`` block is
answered by a ``tool_result`` in the next user turn (and every result answers a use).
Errors use Anthropic's format (``{"type": "error", "error": {"type", "message"}}``), with
``retry-after`` on 429. Answers are scripted with :meth:`FakeAnthropic.say` and
:meth:`FakeAnthropic.call` (default: the text ``OK``).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeAnthropic"]

TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,128}$"
TOOL_NAME = re.compile(TOOL_NAME_PATTERN)


class _Invalid(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


class FakeAnthropic(FakeServer):
    """Anthropic with an API key, available ``models`` and a script of assistant turns."""

    def __init__(
        self, *, api_key: str = "test-anthropic-key", models: Iterable[str] = ("claude-sonnet-4-6",)
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = set(models)
        self._turns: deque[dict[str, Any]] = deque()
        self._turns_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.route("POST", r"/v1/messages", self._messages)
        self.route("GET", r"/v1/models/(?P<model>[^/]+)", self._model)

    # -- script ------------------------------------------------------------------------------

    def say(
        self,
        text: str,
        *,
        input_tokens: int = 20,
        output_tokens: int = 5,
        stop_reason: str = "end_turn",
    ) -> None:
        """Queue a final answer."""
        self._queue([{"type": "text", "text": text}], input_tokens, output_tokens, stop_reason)

    def call(
        self,
        *calls: tuple[str, Mapping[str, Any]],
        text: str = "",
        input_tokens: int = 20,
        output_tokens: int = 5,
    ) -> None:
        """Queue a turn using tools: ``call(("list_k8s_pods", {"namespace": "a"}))``."""
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        blocks += [
            {
                "type": "tool_use",
                "id": f"toolu_fake{next(self._ids):04d}",
                "name": name,
                "input": dict(args),
            }
            for name, args in calls
        ]
        self._queue(blocks, input_tokens, output_tokens, "tool_use")

    def fail(self, reply: Reply, *, times: int = 1) -> None:
        """Answer the next ``times`` message requests with ``reply``."""
        self.enqueue("POST", r"/v1/messages", *[reply] * times)

    @staticmethod
    def error(
        status: int, kind: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> Reply:
        """An error in Anthropic's format, e.g. ``error(529, "overloaded_error", "Overloaded")``."""
        return Reply(
            status,
            {
                "type": "error",
                "error": {"type": kind, "message": message},
                "request_id": "req_fake",
            },
            headers={"request-id": "req_fake", **(headers or {})},
        )

    @classmethod
    def rate_limited(cls, retry_after: int = 2) -> Reply:
        return cls.error(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization "
            "of 50 requests per minute.",
            headers={"retry-after": str(retry_after)},
        )

    def reset_script(self) -> None:
        """Forget queued turns and replies (a module-wide fake, between tests)."""
        with self._turns_lock:
            self._turns.clear()
        self.clear_script()

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Bodies of the message requests received, in order."""
        return [request.json() for request in self.requests_to("POST", r"/v1/messages")]

    def _queue(
        self, content: list[dict[str, Any]], prompt: int, completion: int, stop: str
    ) -> None:
        with self._turns_lock:
            self._turns.append(
                {"content": content, "input": prompt, "output": completion, "stop": stop}
            )

    # -- routes ------------------------------------------------------------------------------

    def _model(self, request: RecordedRequest, match: Any) -> Reply:
        try:
            self._check_headers(request)
            model = self._check_model(match["model"])
        except _Invalid as exc:
            return exc.reply
        return Reply(
            200,
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2025-09-29T00:00:00Z",
            },
        )

    def _messages(self, request: RecordedRequest, match: Any) -> Reply:
        try:
            self._check_headers(request)
            body = request.json()
            for field in ("model", "max_tokens", "messages"):
                if field not in body:
                    raise self._invalid(f"{field}: Field required")
            model = self._check_model(body["model"])
            if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
                raise self._invalid("max_tokens: Input should be a valid integer greater than 0")
            self._check_messages(body["messages"])
            self._check_tools(body.get("tools") or [])
        except _Invalid as exc:
            return exc.reply
        with self._turns_lock:
            turn = self._turns.popleft() if self._turns else None
        turn = turn or {
            "content": [{"type": "text", "text": "OK"}],
            "input": 20,
            "output": 5,
            "stop": "end_turn",
        }
        return Reply(
            200,
            {
                "id": f"msg_fake{next(self._ids):04d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": turn["content"],
                "stop_reason": turn["stop"],
                "stop_sequence": None,
                "usage": {"input_tokens": turn["input"], "output_tokens": turn["output"]},
            },
            headers={"request-id": "req_fake"},
        )

    # -- validation --------------------------------------------------------------------------

    def _invalid(self, message: str) -> _Invalid:
        return _Invalid(self.error(400, "invalid_request_error", message))

    def _check_headers(self, request: RecordedRequest) -> None:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key not in (request.headers.get("x-api-key"), bearer):
            raise _Invalid(self.error(401, "authentication_error", "invalid x-api-key"))
        if "anthropic-version" not in request.headers:
            raise self._invalid("anthropic-version: header is required")

    def _check_model(self, model: str) -> str:
        if model not in self.models:
            raise _Invalid(self.error(404, "not_found_error", f"model: {model}"))
        return model

    def _check_messages(self, messages: Any) -> None:
        if not isinstance(messages, list) or not messages:
            raise self._invalid("messages: at least one message is required")
        asked: list[str] = []  # tool_use ids of the previous turn
        for index, message in enumerate(messages):
            role = message.get("role")
            where = f"messages.{index}"
            if role not in ("user", "assistant"):
                hint = " (system prompts go in the top-level system parameter)"
                raise self._invalid(
                    f'{where}.role: Input should be "user" or "assistant"'
                    + (hint if role == "system" else "")
                )
            if index == 0 and role != "user":
                raise self._invalid('messages: first message must use the "user" role')
            content = message.get("content")
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if not blocks:
                raise self._invalid(f"{where}: all messages must have non-empty content")
            answered = [b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"]
            if missing := sorted(set(asked) - set(answered)):
                raise self._invalid(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )
            for position, block in enumerate(blocks):
                self._check_block(
                    block, role=role, asked=asked, where=f"{where}.content.{position}"
                )
                if block.get("type") == "tool_result" and position >= len(answered):
                    raise self._invalid(f"{where}: tool_result blocks must come first")
            asked = [b["id"] for b in blocks if b.get("type") == "tool_use"]

    def _check_block(
        self, block: dict[str, Any], *, role: str, asked: list[str], where: str
    ) -> None:
        kind = block.get("type")
        if kind == "text" and not block.get("text"):
            raise self._invalid(f"{where}: text content blocks must be non-empty")
        if kind == "tool_use" and role != "assistant":
            raise self._invalid(f"{where}: tool_use blocks may only appear in assistant turns")
        if kind == "tool_result" and (role != "user" or block.get("tool_use_id") not in asked):
            raise self._invalid(
                f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                "`tool_use` block in the previous message."
            )

    def _check_tools(self, tools: list[dict[str, Any]]) -> None:
        for index, tool in enumerate(tools):
            if not TOOL_NAME.match(str(tool.get("name", ""))):
                raise self._invalid(
                    f"tools.{index}.custom.name: String should match pattern {TOOL_NAME_PATTERN!r}"
                )
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise self._invalid(
                    f"tools.{index}.custom.input_schema.type: Input should be 'object'"
                )
