"""Read-only queries of the sidecar: runs a page at a time, usage and journal pages by namespace.

Every query here only reads, so the sidecar can use a role granted SELECT alone. Lists that a
caller may only partly see take ``namespaces``: None means every namespace, a collection means
only those (an empty one, none at all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from mission_control.store.database import Database
from mission_control.store.records import JournalEvent, RunRecord, UsageSum, UsageTotal
from mission_control.store.usage_sql import BY_DAY, IN_PERIOD, OF_NAMESPACE, OF_TASK, grouped_sums

__all__ = ["NamespaceUsage", "RunCursor", "SidecarReads"]

_RUN_COLUMNS = """uid, namespace, name, task_name, spec, provider, model, succeeded, reason,
message, created_at, start_time, completion_time, steps, tool_calls, prompt_tokens,
completion_tokens, cost_usd, last_seq, updated_at"""

# The namespaces a caller may see: all of them, or those in the list.
_IN_NAMESPACES = "(%(any_namespace)s OR namespace = ANY(%(namespaces)s))"

# Newest first; (created_at, uid) is unique, so "older than the last row shown" is a cursor
# that neither skips nor repeats rows while new runs arrive.
_RUN_PAGE = f"""
SELECT {_RUN_COLUMNS} FROM task_runs
WHERE {OF_NAMESPACE}
  AND {_IN_NAMESPACES}
  AND (%(task)s::text IS NULL OR task_name = %(task)s)
  AND (%(reason)s::text IS NULL OR reason = %(reason)s)
  AND (%(before_time)s::timestamptz IS NULL
       OR (created_at, uid) < (%(before_time)s, %(before_uid)s::text))
ORDER BY created_at DESC, uid DESC
LIMIT %(limit)s
"""

_USAGE = grouped_sums(keys=BY_DAY, filters=(IN_PERIOD, OF_NAMESPACE, _IN_NAMESPACES, OF_TASK))
_USAGE_BY_NAMESPACE = grouped_sums(keys=("namespace",), filters=(IN_PERIOD, _IN_NAMESPACES))

_EVENT_PAGE = """
SELECT run_uid, seq, type, payload, created_at, event_id FROM task_events
WHERE run_uid = %(run_uid)s AND seq > %(after)s AND (%(upto)s::bigint IS NULL OR seq <= %(upto)s)
ORDER BY seq
LIMIT %(limit)s
"""


@dataclass(frozen=True, kw_only=True)
class NamespaceUsage(UsageSum):
    """Totals of one namespace."""

    namespace: str


@dataclass(frozen=True, kw_only=True)
class RunCursor:
    """Where a page of runs ended: the creation time and uid of its last run."""

    created_at: dt.datetime
    uid: str


class SidecarReads:
    """The sidecar's queries; SELECT only."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def run_page(
        self,
        *,
        namespace: str | None = None,
        namespaces: Collection[str] | None = None,
        task: str | None = None,
        reason: str | None = None,
        before: RunCursor | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Runs matching every filter, newest first, older than ``before``."""
        return await self._db.fetch_all(
            row=RunRecord,
            query=_RUN_PAGE,
            params={
                "namespace": namespace,
                **_visible(namespaces),
                "task": task,
                "reason": reason,
                "before_time": None if before is None else before.created_at,
                "before_uid": None if before is None else before.uid,
                "limit": limit,
            },
            action="list task runs",
        )

    async def run_namespaces(self) -> list[str]:
        """Every namespace that has runs or usage (what a per-namespace check must cover)."""
        rows = await self._db.fetch_all(
            row=_Namespace,
            query="SELECT namespace FROM task_runs UNION SELECT namespace FROM token_usage "
            "ORDER BY 1",
            action="list namespaces",
        )
        return [row.namespace for row in rows]

    async def usage(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        namespace: str | None = None,
        namespaces: Collection[str] | None = None,
        task: str | None = None,
    ) -> list[UsageTotal]:
        """Sums per UTC day, provider and model in ``[since, until)``."""
        return await self._db.fetch_all(
            row=UsageTotal,
            query=_USAGE,
            params={
                "since": since,
                "until": until,
                "namespace": namespace,
                **_visible(namespaces),
                "task": task,
            },
            action="sum token usage",
        )

    async def usage_by_namespace(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        namespaces: Collection[str] | None = None,
    ) -> list[NamespaceUsage]:
        """Sums per namespace in ``[since, until)``."""
        return await self._db.fetch_all(
            row=NamespaceUsage,
            query=_USAGE_BY_NAMESPACE,
            params={
                "since": since,
                "until": until,
                **_visible(namespaces),
            },
            action="sum token usage by namespace",
        )

    async def event_page(
        self, run_uid: str, *, after: int = 0, upto: int | None = None, limit: int = 500
    ) -> list[JournalEvent]:
        """The run's events with ``after < seq <= upto``, oldest first, at most ``limit``."""
        return await self._db.fetch_all(
            row=JournalEvent,
            query=_EVENT_PAGE,
            params={"run_uid": run_uid, "after": after, "upto": upto, "limit": limit},
            action="read the journal",
        )


def _visible(namespaces: Collection[str] | None) -> dict[str, object]:
    # The parameters of _IN_NAMESPACES: None means every namespace.
    return {"any_namespace": namespaces is None, "namespaces": sorted(namespaces or ())}


@dataclass(frozen=True, kw_only=True)
class _Namespace:
    namespace: str
