"""A fake Gemini API (Generative Language API ``v1beta``): ``generateContent`` and ``models.get``.

It checks requests the way the API does: the API key (``x-goog-api-key``; an unknown key is
a 400 ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``, no key a 403), that the model
exists, roles ``user``/``model``, non-empty parts, function declarations, that a function
call turn follows a user or function response turn, that function responses answer the
calls of the turn before them (by name, and id when given), and that thought signatures the
fake issued come back with their calls. With ``require_signatures`` (what Gemini 3 models do)
the first call of each answer since the last user text must carry a signature, whoever made it.
Errors use Google's JSON error format
(``{"error": {"code", "message", "status", "details"}}``, ``Content-Type: application/json``);
:meth:`FakeGemini.invalid_argument`, :meth:`FakeGemini.permission_denied` and
:meth:`FakeGemini.rate_limited` script the others; :meth:`FakeGemini.rate_limit_storm` answers
every request 429 until it is over. Answers are scripted with
:meth:`FakeGemini.say` and :meth:`FakeGemini.call` (default: the text ``OK``).
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeGemini"]

STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class _Invalid(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


class FakeGemini(FakeServer):
    """Gemini with an API key, available ``models`` and a script of model turns."""

    def __init__(
        self,
        *,
        api_key: str = "test-gemini-key",
        models: Iterable[str] = ("gemini-2.0-flash",),
        call_ids: bool = True,
        signatures: bool = True,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = set(models)
        self.call_ids = call_ids  # newer models give function calls ids; older ones do not
        self.signatures = signatures  # thinking models attach thought signatures to calls
        self.issued_signatures: dict[str, str] = {}  # call id or name -> signature
        #: Gemini 3: unsigned calls in the current turn are refused, not only altered ones.
        self.require_signatures = False
        self._turns: deque[dict[str, Any]] = deque()
        self._turns_lock = threading.Lock()
        self._ids = itertools.count(1)
        #: While set, every generateContent is answered 429 with this RetryInfo delay.
        self.storm_retry_delay: str | None = None
        self.route("POST", r"/v1beta/models/(?P<model>[^/:]+):generateContent", self._generate)
        self.route("GET", r"/v1beta/models/(?P<model>[^/:]+)", self._model)

    # -- script ------------------------------------------------------------------------------

    def say(
        self,
        text: str,
        *,
        prompt_tokens: int = 20,
        completion_tokens: int = 5,
        finish_reason: str = "STOP",
    ) -> None:
        """Queue a final answer."""
        self._queue([{"text": text}], prompt_tokens, completion_tokens, finish_reason)

    def call(
        self,
        *calls: tuple[str, Mapping[str, Any]],
        text: str = "",
        prompt_tokens: int = 20,
        completion_tokens: int = 5,
    ) -> None:
        """Queue a turn calling functions: ``call(("list_k8s_pods", {"namespace": "a"}))``."""
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        for name, args in calls:
            call: dict[str, Any] = {"name": name, "args": dict(args)}
            part: dict[str, Any] = {"functionCall": call}
            number = next(self._ids)
            if self.call_ids:
                call["id"] = f"fc-{number}"
            if self.signatures:
                part["thoughtSignature"] = base64.b64encode(f"signature-{number}".encode()).decode()
                self.issued_signatures[call.get("id", name)] = part["thoughtSignature"]
            parts.append(part)
        self._queue(parts, prompt_tokens, completion_tokens, "STOP")

    def rate_limit_storm(self, retry_delay: str | None = "30s") -> None:
        """Answer every generateContent 429 (the free tier's quota spent) until called with None."""
        self.storm_retry_delay = retry_delay

    def fail(self, reply: Reply, *, times: int = 1) -> None:
        """Answer the next ``times`` generateContent requests with ``reply``."""
        self.enqueue("POST", r"/v1beta/models/[^/:]+:generateContent", *[reply] * times)

    @staticmethod
    def error(
        code: int,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """An error in Google's format."""
        error: dict[str, Any] = {
            "code": code,
            "message": message,
            "status": STATUS.get(code, "UNKNOWN"),
        }
        if details:
            error["details"] = details
        return Reply(
            code,
            {"error": error},
            headers={"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
        )

    @classmethod
    def rate_limited(cls, retry_delay: str = "2s") -> Reply:
        """429 RESOURCE_EXHAUSTED with a RetryInfo, as the free tier sends it."""
        return cls.error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
            ],
        )

    @classmethod
    def invalid_argument(cls, message: str) -> Reply:
        """400 INVALID_ARGUMENT, as for a schema or a conversation the API cannot take."""
        return cls.error(400, message)

    @classmethod
    def bad_key(cls) -> Reply:
        """What Google answers a key that does not exist: 400, with reason API_KEY_INVALID."""
        message = "API key not valid. Please pass a valid API key."
        return cls.error(
            400,
            message,
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": message,
                },
            ],
        )

    @classmethod
    def permission_denied(cls, reason: str = "SERVICE_DISABLED") -> Reply:
        """403 PERMISSION_DENIED: a real key whose project may not use the API."""
        return cls.error(
            403,
            "Generative Language API has not been used in project 123456789 before or it is "
            "disabled. Enable it by visiting the Google Cloud console, then retry.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )

    @property
    def generations(self) -> list[dict[str, Any]]:
        """Bodies of the generateContent requests received, in order."""
        return [
            r.json() for r in self.requests_to("POST", r"/v1beta/models/[^/:]+:generateContent")
        ]

    def _queue(
        self, parts: list[dict[str, Any]], prompt: int, completion: int, finish: str
    ) -> None:
        with self._turns_lock:
            self._turns.append(
                {"parts": parts, "prompt": prompt, "completion": completion, "finish": finish}
            )

    # -- routes ------------------------------------------------------------------------------

    def _model(self, request: RecordedRequest, match: Any) -> Reply:
        try:
            model = self._check_key_and_model(request, match["model"])
        except _Invalid as exc:
            return exc.reply
        return Reply(
            200,
            {
                "name": f"models/{model}",
                "version": "001",
                "displayName": model,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            },
        )

    def _generate(self, request: RecordedRequest, match: Any) -> Reply:
        if self.storm_retry_delay is not None:
            return self.rate_limited(self.storm_retry_delay)
        try:
            model = self._check_key_and_model(request, match["model"])
            body = request.json()
            self._check_contents(body.get("contents"))
            self._check_tools(body.get("tools") or [])
        except _Invalid as exc:
            return exc.reply
        with self._turns_lock:
            turn = self._turns.popleft() if self._turns else None
        turn = turn or {"parts": [{"text": "OK"}], "prompt": 20, "completion": 5, "finish": "STOP"}
        return Reply(
            200,
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": turn["parts"]},
                        "finishReason": turn["finish"],
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": turn["prompt"],
                    "candidatesTokenCount": turn["completion"],
                    "totalTokenCount": turn["prompt"] + turn["completion"],
                },
                "modelVersion": model,
                "responseId": f"resp-{next(self._ids)}",
            },
        )

    # -- validation --------------------------------------------------------------------------

    def _check_key_and_model(self, request: RecordedRequest, model: str) -> str:
        key = request.headers.get("x-goog-api-key") or (request.query.get("key") or [""])[0]
        if not key:
            raise _Invalid(
                self.error(
                    403,
                    "Method doesn't allow unregistered callers (callers without "
                    "established identity). Please use API Key or other form of "
                    "API consumer identity to call this API.",
                )
            )
        if key != self.api_key:
            raise _Invalid(self.bad_key())
        if model not in self.models:
            raise _Invalid(
                self.error(
                    404,
                    f"models/{model} is not found for API version v1beta, or is not "
                    "supported for generateContent. Call ListModels to see the list "
                    "of available models and their supported methods.",
                )
            )
        return model

    def _invalid(self, message: str) -> _Invalid:
        return _Invalid(self.error(400, message))

    def _check_contents(self, contents: Any) -> None:
        if not contents:
            raise self._invalid("* GenerateContentRequest.contents: contents is not specified")
        previous: dict[str, Any] | None = None
        turn_starts = max(
            (i for i, c in enumerate(contents) if c.get("role") == "user"
             and any("text" in part for part in c.get("parts") or [])),
            default=0,
        )  # fmt: skip
        for index, content in enumerate(contents):
            role, parts = content.get("role"), content.get("parts") or []
            if role not in ("user", "model"):
                raise self._invalid("Please use a valid role: user, model.")
            if not parts:
                raise self._invalid(
                    f"* GenerateContentRequest.contents[{index}].parts: "
                    "contents.parts must not be empty."
                )
            calls = [part["functionCall"] for part in parts if "functionCall" in part]
            responses = [part["functionResponse"] for part in parts if "functionResponse" in part]
            if calls:
                self._check_signatures(parts, this_turn=index > turn_starts)
                if previous is None or previous["role"] != "user":  # function responses are "user"
                    raise self._invalid(
                        "Please ensure that function call turn comes immediately after a "
                        "user turn or after a function response turn."
                    )
            if responses:
                asked = [
                    p["functionCall"]
                    for p in (previous or {}).get("parts", [])
                    if "functionCall" in p
                ]
                if not asked:
                    raise self._invalid(
                        "Please ensure that function response turn comes immediately "
                        "after a function call turn."
                    )
                if len(asked) != len(responses):
                    raise self._invalid(
                        "Please ensure that the number of function response parts is equal "
                        "to the number of function call parts of the function call turn."
                    )
                if sorted(_link(c) for c in asked) != sorted(_link(r) for r in responses):
                    raise self._invalid(
                        "Please ensure that function responses answer the function calls of "
                        "the function call turn (same names, and ids when the calls have them)."
                    )
            previous = content

    def _check_signatures(self, parts: list[dict[str, Any]], *, this_turn: bool) -> None:
        first = True
        for position, part in enumerate(parts):
            call = part.get("functionCall")
            if call is None:
                continue
            issued = self.issued_signatures.get(call.get("id") or call.get("name"))
            sent = part.get("thoughtSignature") or part.get("thought_signature")
            required = self.require_signatures and this_turn and first
            first = False
            if (issued is not None and sent != issued) or (required and not sent):
                raise self._invalid(
                    "Function call is missing a thought_signature in functionCall parts. This is "
                    "required for tools to work correctly. Additional data, function call "
                    f"`default_api:{call.get('name')}` , position {position + 1}."
                )

    def _check_tools(self, tools: list[dict[str, Any]]) -> None:
        for tool in tools:
            for declaration in (
                tool.get("functionDeclarations") or tool.get("function_declarations") or []
            ):
                name = declaration.get("name")
                if not name:
                    raise self._invalid(
                        "* GenerateContentRequest.tools[0].function_declarations[0].name: "
                        "Name cannot be empty."
                    )
                schema_keys = {
                    "parameters",
                    "parametersJsonSchema",
                    "parameters_json_schema",
                } & set(declaration)
                if len(schema_keys) > 1:
                    raise self._invalid(
                        f"function {name}: parameters and parameters_json_schema are "
                        "mutually exclusive"
                    )
                schema = declaration[schema_keys.pop()] if schema_keys else {"type": "object"}
                if schema.get("type") not in ("object", "OBJECT"):
                    raise self._invalid(f"function {name}: parameters must be an object schema")


def _link(part: dict[str, Any]) -> tuple[str, str]:
    """What ties a function response to its call: the name, and the id when there is one."""
    return str(part.get("name")), str(part.get("id") or "")
