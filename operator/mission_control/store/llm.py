"""``llm_requests`` and ``llm_responses``: every LLM exchange of a run, kept in full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from mission_control.store.database import Database
from mission_control.store.keyed import insert_once

__all__ = ["LlmExchanges"]


class LlmExchanges:
    """Records what was sent to a provider and what came back."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_request(
        self,
        *,
        run_uid: str,
        key: str,
        step: int,
        provider: str,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
    ) -> int:
        """Store a request before it is sent; returns its id for the response and usage rows.

        ``key`` is the caller's id for the request, unique per run: a retry with the same key
        and content returns the id already stored; other content is refused (``StoreRejected``).
        """
        row = await insert_once(
            db=self._db,
            table="llm_requests",
            values={
                "run_uid": run_uid,
                "request_key": key,
                "step": step,
                "provider": provider,
                "model": model,
                "messages": Jsonb([dict(message) for message in messages]),
                "tools": Jsonb([dict(tool) for tool in tools]),
            },
            key=("run_uid", "request_key"),
            conflict_where="request_key",
            compared=("step", "provider", "model", "messages", "tools"),
            returning=("id",),
            what="an LLM request",
        )
        return int(row["id"])

    async def record_response(
        self,
        *,
        request_id: int,
        run_uid: str,
        content: Mapping[str, Any],
        latency_ms: float,
        finish_reason: str = "",
        error: str = "",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> int:
        """Store the response (or the error) to a recorded request; returns its id.

        A request has one response: a retry with the same content returns the id already
        stored; another response to the same request is refused (``StoreRejected``).
        """
        row = await insert_once(
            db=self._db,
            table="llm_responses",
            values={
                "request_id": request_id,
                "run_uid": run_uid,
                "content": Jsonb(dict(content)),
                "finish_reason": finish_reason,
                "error": error,
                "latency_ms": latency_ms,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
            },
            key=("request_id",),
            compared=(
                "run_uid",
                "content",
                "finish_reason",
                "error",
                "prompt_tokens",
                "completion_tokens",
            ),
            returning=("id",),
            what="an LLM response",
        )
        return int(row["id"])
