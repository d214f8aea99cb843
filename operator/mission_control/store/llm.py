"""``llm_requests`` and ``llm_responses``: every LLM exchange of a run, kept in full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from mission_control.store.database import Database

__all__ = ["LlmExchanges"]


class LlmExchanges:
    """Records what was sent to a provider and what came back."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_request(
        self,
        *,
        run_uid: str,
        step: int,
        provider: str,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
    ) -> int:
        """Store a request before it is sent; returns its id for the response and usage rows."""
        value = await self._db.fetch_value(
            query="INSERT INTO llm_requests (run_uid, step, provider, model, messages, tools) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            params=(
                run_uid,
                step,
                provider,
                model,
                Jsonb([dict(message) for message in messages]),
                Jsonb([dict(tool) for tool in tools]),
            ),
            action="record an LLM request",
        )
        return int(value)

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
        """Store the response (or the error) to a recorded request; returns its id."""
        value = await self._db.fetch_value(
            query="INSERT INTO llm_responses (request_id, run_uid, content, finish_reason, error, "
            "latency_ms, prompt_tokens, completion_tokens) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            params=(
                request_id,
                run_uid,
                Jsonb(dict(content)),
                finish_reason,
                error,
                latency_ms,
                prompt_tokens,
                completion_tokens,
            ),
            action="record an LLM response",
        )
        return int(value)
