"""``tasks`` and ``task_runs``: the custom resources mirrored, so history outlives them."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from psycopg.types.json import Jsonb

from mission_control.store.database import Database
from mission_control.store.records import RunRecord, RunSnapshot, TaskRecord, TaskSnapshot

__all__ = ["Runs", "Tasks"]

_RUN_COLUMNS = """uid, namespace, name, task_name, spec, provider, model, succeeded, reason,
message, created_at, start_time, completion_time, steps, tool_calls, prompt_tokens,
completion_tokens, cost_usd, last_seq, updated_at"""

# last_seq belongs to the journal and is never written here.
_UPSERT_RUN = f"""
INSERT INTO task_runs (uid, namespace, name, task_name, spec, provider, model, succeeded, reason,
    message, created_at, start_time, completion_time, steps, tool_calls, prompt_tokens,
    completion_tokens, cost_usd)
VALUES (%(uid)s, %(namespace)s, %(name)s, %(task_name)s, %(spec)s, %(provider)s, %(model)s,
    %(succeeded)s, %(reason)s, %(message)s, %(created_at)s, %(start_time)s, %(completion_time)s,
    %(steps)s, %(tool_calls)s, %(prompt_tokens)s, %(completion_tokens)s, %(cost_usd)s)
ON CONFLICT (uid) DO UPDATE SET
    task_name = excluded.task_name, spec = excluded.spec, provider = excluded.provider,
    model = excluded.model, succeeded = excluded.succeeded, reason = excluded.reason,
    message = excluded.message, start_time = excluded.start_time,
    completion_time = excluded.completion_time, steps = excluded.steps,
    tool_calls = excluded.tool_calls, prompt_tokens = excluded.prompt_tokens,
    completion_tokens = excluded.completion_tokens, cost_usd = excluded.cost_usd,
    updated_at = now()
RETURNING {_RUN_COLUMNS}
"""

_LIST_RUNS = f"""
SELECT {_RUN_COLUMNS} FROM task_runs
WHERE (%(namespace)s::text IS NULL OR namespace = %(namespace)s)
  AND (%(task)s::text IS NULL OR task_name = %(task)s)
  AND (%(reason)s::text IS NULL OR reason = %(reason)s)
ORDER BY created_at DESC, uid
LIMIT %(limit)s
"""

_TASK_COLUMNS = (
    "uid, namespace, name, generation, spec, ready_reason, created_at, updated_at, deleted_at"
)

_UPSERT_TASK = f"""
INSERT INTO tasks (uid, namespace, name, generation, spec, ready_reason, created_at)
VALUES (%(uid)s, %(namespace)s, %(name)s, %(generation)s, %(spec)s, %(ready_reason)s,
    %(created_at)s)
ON CONFLICT (uid) DO UPDATE SET
    generation = excluded.generation, spec = excluded.spec, ready_reason = excluded.ready_reason,
    updated_at = now(), deleted_at = NULL
RETURNING {_TASK_COLUMNS}
"""


class Runs:
    """The TaskRun mirror: one row per run uid, kept until deleted by retention."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert_run(self, run: RunSnapshot) -> RunRecord:
        """Insert the run or update everything but its identity and creation time."""
        params = asdict(run)
        params["spec"] = Jsonb(run.spec)
        return await self._db.fetch_returned(
            row=RunRecord, query=_UPSERT_RUN, params=params, action="store a task run"
        )

    async def set_reason(self, uid: str, *, reason: str, message: str) -> None:
        """Change only the run's reason and message (a held run, and one going on again)."""
        await self._db.execute(
            query="UPDATE task_runs SET reason = %(reason)s, message = %(message)s, "
            "updated_at = now() WHERE uid = %(uid)s",
            params={"uid": uid, "reason": reason, "message": message},
            action="store a task run's reason",
        )

    async def get(self, uid: str) -> RunRecord | None:
        """The run with this uid, or None."""
        return await self._db.fetch_one(
            row=RunRecord,
            query=f"SELECT {_RUN_COLUMNS} FROM task_runs WHERE uid = %s",
            params=(uid,),
            action="read a task run",
        )

    async def find(self, *, namespace: str, name: str) -> RunRecord | None:
        """The newest run with this name (a name can be reused after the CR is deleted)."""
        return await self._db.fetch_one(
            row=RunRecord,
            query=f"SELECT {_RUN_COLUMNS} FROM task_runs WHERE namespace = %s AND name = %s "
            "ORDER BY created_at DESC, uid LIMIT 1",
            params=(namespace, name),
            action="read a task run",
        )

    async def list_runs(
        self,
        *,
        namespace: str | None = None,
        task: str | None = None,
        reason: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs matching every filter given, newest first."""
        return await self._db.fetch_all(
            row=RunRecord,
            query=_LIST_RUNS,
            params={"namespace": namespace, "task": task, "reason": reason, "limit": limit},
            action="list task runs",
        )


class Tasks:
    """The Task mirror: one row per Task uid; deleted Tasks keep their row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert_task(self, task: TaskSnapshot) -> TaskRecord:
        """Insert the task or update its spec; a recreated uid is no longer deleted."""
        params = asdict(task)
        params["spec"] = Jsonb(task.spec)
        return await self._db.fetch_returned(
            row=TaskRecord, query=_UPSERT_TASK, params=params, action="store a task"
        )

    async def mark_deleted(self, uid: str, *, at: dt.datetime | None = None) -> None:
        """Record that the Task's custom resource is gone."""
        await self._db.execute(
            query="UPDATE tasks SET deleted_at = coalesce(%s, now()), updated_at = now() "
            "WHERE uid = %s AND deleted_at IS NULL",
            params=(at, uid),
            action="mark a task deleted",
        )

    async def find(self, *, namespace: str, name: str) -> TaskRecord | None:
        """The newest Task with this name, deleted or not."""
        return await self._db.fetch_one(
            row=TaskRecord,
            query=f"SELECT {_TASK_COLUMNS} FROM tasks WHERE namespace = %s AND name = %s "
            "ORDER BY deleted_at IS NULL DESC, created_at DESC LIMIT 1",
            params=(namespace, name),
            action="read a task",
        )

    async def list_tasks(self, *, namespace: str | None = None) -> list[TaskRecord]:
        """Tasks that still exist, by namespace and name."""
        return await self._db.fetch_all(
            row=TaskRecord,
            query=f"SELECT {_TASK_COLUMNS} FROM tasks WHERE deleted_at IS NULL "
            "AND (%(namespace)s::text IS NULL OR namespace = %(namespace)s) "
            "ORDER BY namespace, name",
            params={"namespace": namespace},
            action="list tasks",
        )
