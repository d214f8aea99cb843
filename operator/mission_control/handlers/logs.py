"""The operator's log lines: one per event, plain text or JSON, with the run on every line.

:func:`bind_run` marks the current asyncio task (and the tasks it starts) as working for one
TaskRun; every record logged from there carries ``namespace`` and ``name``, whichever logger
wrote it (the run loop, the store, a connector, kopf). kopf's own per-object records carry
their object too (its ``k8s_ref``), so a Task's lines name the Task.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import IO, Any, Literal

__all__ = ["JsonFormatter", "TextFormatter", "bind_run", "configure_logging", "unbind_run"]

LogFormat = Literal["text", "json"]

_RUN: ContextVar[tuple[str, str] | None] = ContextVar("mission_control_run", default=None)


def bind_run(*, namespace: str, name: str) -> Token[tuple[str, str] | None]:
    """Name the run on every record logged by the current task from now on."""
    return _RUN.set((namespace, name))


def unbind_run(token: Token[tuple[str, str] | None]) -> None:
    """Undo :func:`bind_run`."""
    _RUN.reset(token)


def _object_of(record: logging.LogRecord) -> tuple[str, str] | None:
    bound = _RUN.get()
    if bound is not None:
        return bound
    ref = getattr(record, "k8s_ref", None)  # set by kopf's per-object loggers
    if isinstance(ref, dict) and isinstance(ref.get("name"), str):
        return str(ref.get("namespace") or ""), ref["name"]
    return None


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger [namespace/name] message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        found = _object_of(record)
        where = f" [{found[0]}/{found[1]}]" if found else ""
        line = f"{stamp[:-4]}Z {record.levelname} {record.name}{where} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, namespace and name of the run."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        found = _object_of(record)
        if found is not None:
            entry["namespace"], entry["name"] = found
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    *, level: str, log_format: LogFormat, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every record to ``stream`` (stderr) in ``log_format``; return the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # kopf reports every handler it calls at INFO; that is our handlers' business to log.
    logging.getLogger("kopf").setLevel(level if level == "DEBUG" else "WARNING")
    # One failed connection attempt is logged by the pool, then the store's error says it once.
    logging.getLogger("psycopg.pool").setLevel("ERROR")
    logging.getLogger("httpx").setLevel("WARNING")
    # urllib3 (under the kubernetes client, and requests under Apprise) logs each request's
    # path at DEBUG, and a webhook receiver's path holds its token: never below INFO.
    logging.getLogger("urllib3").setLevel("INFO")
    logging.getLogger("aiohttp.access").setLevel("WARNING")  # every liveness probe
    return handler
