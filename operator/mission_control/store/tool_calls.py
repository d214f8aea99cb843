"""Tool call records (``intent`` -> ``completed`` | ``failed`` | ``unknown``) and tool definitions.

The intent row is committed before the tool runs, so after a crash a call whose intent is
recorded but whose outcome is not shows up in :meth:`ToolCalls.open_calls` and is never
re-executed silently. Every write is safe to retry after a lost acknowledgement: recording the
same intent again, or resolving a call again to the same status and outcome, returns the stored
record; a different intent under the same id, or a different outcome, is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from mission_control.store.database import Database
from mission_control.store.errors import InvalidTransition, RecordNotFound
from mission_control.store.keyed import insert_once
from mission_control.store.records import Risk, ToolCallRecord, ToolCallStatus, ToolDefinitionRecord

__all__ = ["ToolCalls", "ToolDefinitions"]

_COLUMNS = """run_uid, tool_call_id, tool, risk, arguments, args_digest, decision, approver,
dry_run, status, output_digest, error, started_at, finished_at, duration_ms"""

_COLUMN_NAMES = tuple(name.strip() for name in _COLUMNS.split(","))
_INTENT_COMPARED = ("tool", "risk", "arguments", "args_digest", "decision", "approver", "dry_run")

_RESOLVE = f"""
UPDATE tool_call_records
SET status = %(status)s, output_digest = %(output_digest)s, error = %(error)s,
    finished_at = now(),
    duration_ms = coalesce(%(duration_ms)s, extract(epoch FROM now() - started_at) * 1000)
WHERE run_uid = %(run_uid)s AND tool_call_id = %(tool_call_id)s AND status = 'intent'
RETURNING {_COLUMNS}
"""

_GET = f"SELECT {_COLUMNS} FROM tool_call_records WHERE run_uid = %s AND tool_call_id = %s"


class ToolCalls:
    """Records each tool call of a run and how it ended."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_intent(
        self,
        *,
        run_uid: str,
        tool_call_id: str,
        tool: str,
        risk: Risk,
        arguments: Mapping[str, Any],
        args_digest: str,
        decision: str,
        approver: str = "",
        dry_run: bool = False,
    ) -> ToolCallRecord:
        """Commit the intent to call a tool; returns once it is durable.

        ``tool_call_id`` is the key: a retry with the same intent returns the record already
        stored (whatever its status by now); a different intent under the same id is refused
        (``StoreRejected``).
        """
        row = await insert_once(
            db=self._db,
            table="tool_call_records",
            values={
                "run_uid": run_uid,
                "tool_call_id": tool_call_id,
                "tool": tool,
                "risk": risk,
                "arguments": Jsonb(dict(arguments)),
                "args_digest": args_digest,
                "decision": decision,
                "approver": approver,
                "dry_run": dry_run,
            },
            key=("run_uid", "tool_call_id"),
            compared=_INTENT_COMPARED,
            returning=_COLUMN_NAMES,
            what="a tool call intent",
        )
        return ToolCallRecord(**row)

    async def complete(
        self,
        *,
        run_uid: str,
        tool_call_id: str,
        output_digest: str,
        duration_ms: float | None = None,
    ) -> ToolCallRecord:
        """Mark the call completed with the digest of its full output."""
        return await self._resolve(
            run_uid=run_uid,
            tool_call_id=tool_call_id,
            status="completed",
            output_digest=output_digest,
            error="",
            duration_ms=duration_ms,
        )

    async def fail(
        self, *, run_uid: str, tool_call_id: str, error: str, duration_ms: float | None = None
    ) -> ToolCallRecord:
        """Mark the call failed (it ran and failed, or it was refused) with the reason."""
        return await self._resolve(
            run_uid=run_uid,
            tool_call_id=tool_call_id,
            status="failed",
            output_digest="",
            error=error,
            duration_ms=duration_ms,
        )

    async def mark_unknown(self, *, run_uid: str, tool_call_id: str, reason: str) -> ToolCallRecord:
        """Mark a call whose outcome was never recorded (found open after a restart)."""
        return await self._resolve(
            run_uid=run_uid,
            tool_call_id=tool_call_id,
            status="unknown",
            output_digest="",
            error=reason,
            duration_ms=None,
        )

    async def get(self, *, run_uid: str, tool_call_id: str) -> ToolCallRecord | None:
        """One call record, or None."""
        return await self._db.fetch_one(
            row=ToolCallRecord,
            query=_GET,
            params=(run_uid, tool_call_id),
            action="read a tool call record",
        )

    async def open_calls(self, run_uid: str) -> list[ToolCallRecord]:
        """The run's calls still in ``intent``: started, outcome not recorded."""
        return await self._db.fetch_all(
            row=ToolCallRecord,
            query=f"SELECT {_COLUMNS} FROM tool_call_records "
            "WHERE run_uid = %s AND status = 'intent' ORDER BY started_at, tool_call_id",
            params=(run_uid,),
            action="read open tool calls",
        )

    async def for_run(self, run_uid: str) -> list[ToolCallRecord]:
        """All of the run's calls in the order they were started."""
        return await self._db.fetch_all(
            row=ToolCallRecord,
            query=f"SELECT {_COLUMNS} FROM tool_call_records "
            "WHERE run_uid = %s ORDER BY started_at, tool_call_id",
            params=(run_uid,),
            action="read tool call records",
        )

    async def _resolve(
        self,
        *,
        run_uid: str,
        tool_call_id: str,
        status: ToolCallStatus,
        output_digest: str,
        error: str,
        duration_ms: float | None,
    ) -> ToolCallRecord:
        record = await self._db.fetch_one(
            row=ToolCallRecord,
            query=_RESOLVE,
            params={
                "run_uid": run_uid,
                "tool_call_id": tool_call_id,
                "status": status,
                "output_digest": output_digest,
                "error": error,
                "duration_ms": duration_ms,
            },
            action=f"mark a tool call {status}",
        )
        if record is not None:
            return record
        current = await self.get(run_uid=run_uid, tool_call_id=tool_call_id)
        if current is None:
            raise RecordNotFound(f"no tool call {tool_call_id} in run {run_uid}")
        if current.status == status:
            if (current.output_digest, current.error) == (output_digest, error):
                return current
            raise InvalidTransition(
                f"tool call {tool_call_id} of run {run_uid} is already {status} with "
                f"output digest {current.output_digest!r} and error {current.error[:80]!r}; "
                f"it cannot be {status} again with output digest {output_digest!r} and "
                f"error {error[:80]!r}"
            )
        raise InvalidTransition(
            f"tool call {tool_call_id} of run {run_uid} is already {current.status}, "
            f"it cannot become {status}"
        )


class ToolDefinitions:
    """The catalogue of registered tools, kept in step with the code at start-up."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync(self, definitions: Sequence[ToolDefinitionRecord]) -> None:
        """Insert or update every definition given (tools no longer registered are kept)."""
        await self._db.execute_many(
            query="""
            INSERT INTO tool_definitions
                (name, description, risk, parameters, connector, timeout_seconds)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (name) DO UPDATE SET
                description = excluded.description, risk = excluded.risk,
                parameters = excluded.parameters, connector = excluded.connector,
                timeout_seconds = excluded.timeout_seconds, updated_at = now()
            """,
            params_seq=[
                (d.name, d.description, d.risk, Jsonb(d.parameters), d.connector, d.timeout_seconds)
                for d in definitions
            ],
            action="store tool definitions",
        )

    async def all(self) -> list[ToolDefinitionRecord]:
        """Every stored definition, by name."""
        return await self._db.fetch_all(
            row=ToolDefinitionRecord,
            query="SELECT name, description, risk, parameters, connector, timeout_seconds "
            "FROM tool_definitions ORDER BY name",
            action="read tool definitions",
        )
