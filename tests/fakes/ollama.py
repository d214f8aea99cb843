"""A fake Ollama server: ``/api/chat`` (JSON or NDJSON streaming), ``/api/tags``, ``/api/show``.

It checks requests the way Ollama does (a model is required and must be pulled, roles are
known, tools are function schemas) and, stricter than Ollama, that every ``tool`` message
answers a tool call of the assistant turn before it. ``"stream"`` defaults to true, as in
Ollama: a streamed answer is NDJSON (``application/x-ndjson``), one JSON object per line: the
text in pieces, the tool calls in a chunk of their own, then a final chunk with ``done: true``,
``done_reason``, the token counts and durations. An error after streaming started is a line
``{"error": "..."}`` (HTTP status 200 already sent).

Tool calls come in the newer servers' shape (``id``, and ``function.index``) or, with
``tool_call_ids=False``, in the older one (neither). The model's answers are scripted with
:meth:`FakeOllama.say` and :meth:`FakeOllama.call` (default: the text ``OK``); errors are
queued with :meth:`FakeOllama.fail` in Ollama's ``{"error": "..."}`` format. ``/api/show``
reports each model's capabilities: a model in ``without_tools`` lacks ``tools`` and a chat
offering it tools is refused with a 400, as Ollama does. A switched-off server is
:meth:`~tests.fakes.server.FakeServer.go_down` (connections refused).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
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

    def __init__(
        self,
        *,
        models: Iterable[str] = ("llama3.1",),
        version: str = "0.12.6",
        tool_call_ids: bool = True,
        without_tools: Iterable[str] = (),
        num_ctx: int | None = None,
    ) -> None:
        super().__init__()
        self.models = {_tagged(name) for name in models} | {_tagged(n) for n in without_tools}
        #: Pulled models whose template has no tools section (no ``tools`` capability).
        self.without_tools = {_tagged(name) for name in without_tools}
        self.num_ctx = num_ctx  # the models' num_ctx parameter, as /api/show reports it
        self.version = version
        self.tool_call_ids = tool_call_ids  # newer servers give calls an id and an index
        self._turns: deque[dict[str, Any]] = deque()
        self._turns_lock = threading.Lock()
        self._clock = itertools.count(1)  # timestamps, one per chunk
        self._ids = itertools.count(1)
        self.route("POST", r"/api/chat", self._chat)
        self.route("GET", r"/api/tags", self._tags)
        self.route("GET", r"/api/version", self._version)
        self.route("POST", r"/api/show", self._show)

    # -- script ------------------------------------------------------------------------------

    def say(
        self,
        text: str,
        *,
        prompt_tokens: int | None = 20,
        completion_tokens: int | None = 5,
        done_reason: str = "stop",
        stall: float = 0.0,
    ) -> None:
        """Queue a final answer.

        A count of None is left out, as Ollama does when it is 0 (a fully cached prompt).
        ``stall`` holds a streamed answer back that many seconds after its first chunk.
        """
        self._queue(
            {"content": text},
            prompt=prompt_tokens,
            completion=completion_tokens,
            done_reason=done_reason,
            stall=stall,
        )

    def call(
        self,
        *calls: tuple[str, Mapping[str, Any]],
        text: str = "",
        prompt_tokens: int | None = 20,
        completion_tokens: int | None = 5,
    ) -> None:
        """Queue a turn calling tools: ``call(("list_k8s_pods", {"namespace": "a"}))``."""
        tool_calls: list[dict[str, Any]] = []
        for index, (name, args) in enumerate(calls):
            function: dict[str, Any] = {"name": name, "arguments": dict(args)}
            call: dict[str, Any] = {"function": function}
            if self.tool_call_ids:
                call = {
                    "id": f"call_{next(self._ids):08x}",
                    "function": {"index": index, **function},
                }
            tool_calls.append(call)
        self._queue(
            {"content": text, "tool_calls": tool_calls},
            prompt=prompt_tokens,
            completion=completion_tokens,
            done_reason="stop",  # Ollama says "stop" after tool calls too
        )

    def break_off(self, message: str, *, after: str = "Let me") -> None:
        """Queue an answer that fails after streaming ``after`` (a 500 when not streamed)."""
        self._queue({"content": after}, prompt=20, completion=5, done_reason="stop", error=message)

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

    def _queue(self, message: dict[str, Any], **turn: Any) -> None:
        with self._turns_lock:
            self._turns.append({"message": message, **turn})

    # -- routes ------------------------------------------------------------------------------

    def _version(self, request: RecordedRequest, match: Any) -> Reply:
        return Reply(200, {"version": self.version})

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

    def _show(self, request: RecordedRequest, match: Any) -> Reply:
        body = _json_object(request.body)
        name = str(body.get("model") or body.get("name") or "")
        if _tagged(name) not in self.models:
            return self.error(404, f"model '{name}' not found")
        capabilities = ["completion"] + ([] if _tagged(name) in self.without_tools else ["tools"])
        return Reply(
            200,
            {
                "modelfile": f"FROM {name}",
                "parameters": "" if self.num_ctx is None else f"num_ctx {self.num_ctx}",
                "template": "{{ .Prompt }}",
                "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B"},
                "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                "capabilities": capabilities,
                "modified_at": "2025-01-01T00:00:00Z",
            },
        )

    def _chat(self, request: RecordedRequest, match: Any) -> Reply:
        try:
            body = _json_object(request.body)
            model = self._check_chat(body)
        except _Invalid as exc:
            return self.error(exc.status, str(exc))
        with self._turns_lock:
            turn = self._turns.popleft() if self._turns else None
        turn = turn or {"message": {"content": "OK"}, "prompt": 20, "completion": 5}
        turn.setdefault("done_reason", "stop")
        if body.get("stream", True):
            return Reply(
                200, self._chunks(model, turn), headers={"Content-Type": "application/x-ndjson"}
            )
        if turn.get("error"):
            return self.error(500, turn["error"])
        return Reply(
            200,
            {
                "model": model,
                "created_at": self._created_at(),
                "message": {"role": "assistant", **turn["message"]},
                "done": True,
                **self._final(turn),
            },
        )

    def _chunks(self, model: str, turn: dict[str, Any]) -> Iterator[bytes]:
        def line(message: Mapping[str, Any], **rest: Any) -> bytes:
            chunk = {
                "model": model,
                "created_at": self._created_at(),
                "message": {"role": "assistant", **message},
                **rest,
            }
            return json.dumps(chunk).encode() + b"\n"

        text = turn["message"].get("content", "")
        for position, piece in enumerate(re.findall(r"\S*\s*", text)[:-1]):
            yield line({"content": piece}, done=False)
            if position == 0 and turn.get("stall"):
                time.sleep(turn["stall"])
        if turn.get("error"):
            yield json.dumps({"error": turn["error"]}).encode() + b"\n"
            return
        if turn["message"].get("tool_calls"):
            yield line({"content": "", "tool_calls": turn["message"]["tool_calls"]}, done=False)
        yield line({"content": ""}, done=True, **self._final(turn))

    @staticmethod
    def _final(turn: dict[str, Any]) -> dict[str, Any]:
        """The last chunk's fields; Ollama omits counts that are 0 (``omitempty``)."""
        counts = {"prompt_eval_count": turn.get("prompt"), "eval_count": turn.get("completion")}
        return {
            "done_reason": turn["done_reason"],
            "total_duration": 1_000_000,
            "load_duration": 1_000,
            "prompt_eval_duration": 500_000,
            "eval_duration": 400_000,
            **{key: value for key, value in counts.items() if value},
        }

    def _created_at(self) -> str:
        tick = next(self._clock)
        return f"2025-06-01T12:{tick // 60 % 60:02d}:{tick % 60:02d}.{tick:09d}Z"

    def _check_chat(self, body: dict[str, Any]) -> str:
        model = body.get("model")
        if not model:
            raise _Invalid("model is required")
        if (model if ":" in model else f"{model}:latest") not in self.models:
            raise _Invalid(f'model "{model}" not found, try pulling it first', status=404)
        if body.get("tools") and _tagged(model) in self.without_tools:
            raise _Invalid(f"registry.ollama.ai/library/{model} does not support tools")
        if not isinstance(body.get("stream", True), bool):
            raise _Invalid("json: cannot unmarshal into Go struct field ChatRequest.stream")
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


def _tagged(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


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
