"""A fake Ollama server: ``/api/chat`` (non-streaming) and ``/api/tags``.

It checks requests the way Ollama does (a model is required and must be pulled, roles are
known, tools are function schemas) and, stricter than Ollama, that every ``tool`` message
answers a tool call of the assistant turn before it. The model's answers are scripted with
:meth:`FakeOllama.say` and :meth:`FakeOllama.call` (default: the text ``OK``); errors are
queued with :meth:`FakeOllama.fail` in Ollama's ``{"error": "..."}`` format.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeOllama"]

ROLES = {"system", "user", "assistant", "tool"}


class _Invalid(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class FakeOllama(FakeServer):
    """Ollama with pulled ``models`` and a script of assistant turns."""

    def __init__(self, *, models: Iterable[str] = ("llama3.1",)) -> None:
        super().__init__()
        self.models = {name if ":" in name else f"{name}:latest" for name in models}
        self._turns: deque[dict[str, Any]] = deque()
        self._turns_lock = threading.Lock()
        self.route("POST", r"/api/chat", self._chat)
        self.route("GET", r"/api/tags", self._tags)

    # -- script ------------------------------------------------------------------------------

    def say(self, text: str, *, prompt_tokens: int = 20, completion_tokens: int = 5) -> None:
        """Queue a final answer."""
        self._queue({"content": text}, prompt_tokens, completion_tokens, done_reason="stop")

    def call(
        self,
        *calls: tuple[str, Mapping[str, Any]],
        text: str = "",
        prompt_tokens: int = 20,
        completion_tokens: int = 5,
    ) -> None:
        """Queue a turn calling tools: ``call(("list_k8s_pods", {"namespace": "a"}))``."""
        message = {
            "content": text,
            "tool_calls": [
                {"function": {"name": name, "arguments": dict(args)}} for name, args in calls
            ],
        }
        self._queue(message, prompt_tokens, completion_tokens, done_reason="stop")

    def fail(self, status: int, message: str, *, times: int = 1) -> None:
        """Answer the next ``times`` chat requests with an Ollama error."""
        self.enqueue("POST", r"/api/chat", *[self.error(status, message)] * times)

    @staticmethod
    def error(status: int, message: str) -> Reply:
        return Reply(status, {"error": message})

    @property
    def chats(self) -> list[dict[str, Any]]:
        """Bodies of the chat requests received, in order."""
        return [request.json() for request in self.requests_to("POST", r"/api/chat")]

    def _queue(
        self, message: dict[str, Any], prompt: int, completion: int, *, done_reason: str
    ) -> None:
        with self._turns_lock:
            self._turns.append(
                {
                    "message": message,
                    "prompt": prompt,
                    "completion": completion,
                    "done_reason": done_reason,
                }
            )

    # -- routes ------------------------------------------------------------------------------

    def _tags(self, request: RecordedRequest, match: Any) -> Reply:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": "2025-01-01T00:00:00Z",
                "size": 4_661_224_676,
                "digest": "0" * 64,
                "details": {"format": "gguf", "family": "llama"},
            }
            for name in sorted(self.models)
        ]
        return Reply(200, {"models": models})

    def _chat(self, request: RecordedRequest, match: Any) -> Reply:
        try:
            body = _json_object(request.body)
            model = self._check_chat(body)
        except _Invalid as exc:
            return self.error(exc.status, str(exc))
        with self._turns_lock:
            turn = self._turns.popleft() if self._turns else None
        turn = turn or {
            "message": {"content": "OK"},
            "prompt": 20,
            "completion": 5,
            "done_reason": "stop",
        }
        return Reply(
            200,
            {
                "model": model,
                "created_at": "2025-01-01T00:00:00.000000Z",
                "message": {"role": "assistant", **turn["message"]},
                "done": True,
                "done_reason": turn["done_reason"],
                "total_duration": 1_000_000,
                "load_duration": 1_000,
                "prompt_eval_count": turn["prompt"],
                "prompt_eval_duration": 500_000,
                "eval_count": turn["completion"],
                "eval_duration": 400_000,
            },
        )

    def _check_chat(self, body: dict[str, Any]) -> str:
        model = body.get("model")
        if not model:
            raise _Invalid("model is required")
        if (model if ":" in model else f"{model}:latest") not in self.models:
            raise _Invalid(f'model "{model}" not found, try pulling it first', status=404)
        if body.get("stream", True) is not False:
            raise _Invalid("this fake answers stream=false requests only")
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _Invalid("messages must be a list")
        open_calls: list[str] = []
        for index, message in enumerate(messages):
            role = message.get("role")
            if role not in ROLES:
                raise _Invalid(f"messages[{index}]: invalid role {role!r}")
            if role == "assistant":
                open_calls = [call["function"]["name"] for call in message.get("tool_calls") or []]
            elif role == "tool":
                name = message.get("tool_name")
                if name not in open_calls:
                    raise _Invalid(f"messages[{index}]: tool result {name!r} answers no tool call")
                open_calls.remove(name)
            else:
                open_calls = []
        for tool in body.get("tools") or []:
            _check_tool(tool)
        return str(model)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"invalid character in request body: {exc}") from None
    if not isinstance(body, dict):
        raise _Invalid("request body must be a JSON object")
    return body


def _check_tool(tool: Mapping[str, Any]) -> None:
    function = tool.get("function") or {}
    if tool.get("type") != "function" or not function.get("name"):
        raise _Invalid("tools must be functions with a name")
    parameters = function.get("parameters") or {}
    if parameters.get("type") != "object":
        raise _Invalid(f"tool {function['name']}: parameters must be an object schema")
