"""Token usage: one row per LLM request, summed for the usage endpoint and daily budgets.

Days are UTC days.
"""

from __future__ import annotations

import datetime as dt

from mission_control.store.database import Database
from mission_control.store.keyed import insert_once
from mission_control.store.records import UsageEntry, UsageSum, UsageTotal
from mission_control.store.usage_sql import (
    BY_DAY,
    IN_PERIOD,
    OF_NAMESPACE,
    OF_TASK,
    SUMS,
    grouped_sums,
)

__all__ = ["TokenUsage"]

_TOTALS = grouped_sums(keys=BY_DAY, filters=(IN_PERIOD, OF_NAMESPACE, OF_TASK))

_DAY_SUM = f"""
SELECT {SUMS} FROM token_usage WHERE namespace = %s AND created_at >= %s AND created_at < %s
"""
_RUN_SUM = f"SELECT {SUMS} FROM token_usage WHERE run_uid = %s"

# What a retried record must repeat; its time may differ.
_USAGE_COMPARED = (
    "request_id",
    "provider",
    "model",
    "namespace",
    "task",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)


class TokenUsage:
    """Records token usage and answers "how much" questions about it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, entry: UsageEntry, *, key: str, at: dt.datetime | None = None) -> int:
        """Store the usage of one request (at ``at``, default now); returns the row id.

        ``key`` is the caller's id for this usage, unique per run (e.g. the LLM request's key):
        a retry with the same key and entry returns the row already stored instead of counting
        the tokens twice; the same key with another entry is refused (``StoreRejected``).
        """
        row = await insert_once(
            db=self._db,
            table="token_usage",
            values={
                "run_uid": entry.run_uid,
                "usage_key": key,
                "request_id": entry.request_id,
                "provider": entry.provider,
                "model": entry.model,
                "namespace": entry.namespace,
                "task": entry.task,
                "prompt_tokens": entry.prompt_tokens,
                "completion_tokens": entry.completion_tokens,
                "cost_usd": entry.cost_usd,
                "created_at": at or dt.datetime.now(dt.UTC),
            },
            key=("run_uid", "usage_key"),
            conflict_where="usage_key",
            compared=_USAGE_COMPARED,
            returning=("id",),
            what="token usage",
        )
        return int(row["id"])

    async def totals(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        namespace: str | None = None,
        task: str | None = None,
    ) -> list[UsageTotal]:
        """Sums per UTC day, provider and model for requests in ``[since, until)``."""
        return await self._db.fetch_all(
            row=UsageTotal,
            query=_TOTALS,
            params={"since": since, "until": until, "namespace": namespace, "task": task},
            action="sum token usage",
        )

    async def day_total(self, *, namespace: str, day: dt.date | None = None) -> UsageSum:
        """Sums for one namespace over one UTC day (default today), for daily budgets."""
        day = day or dt.datetime.now(dt.UTC).date()
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return await self._db.fetch_returned(
            row=UsageSum,
            query=_DAY_SUM,
            params=(namespace, start, start + dt.timedelta(days=1)),
            action="sum token usage",
        )

    async def run_total(self, run_uid: str) -> UsageSum:
        """Sums for one run, for per-run budgets."""
        return await self._db.fetch_returned(
            row=UsageSum, query=_RUN_SUM, params=(run_uid,), action="sum token usage"
        )
