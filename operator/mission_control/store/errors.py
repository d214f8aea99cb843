"""The store's exception tree, and the one place where psycopg's exceptions are translated.

- :class:`StoreError`: base of everything the store raises on purpose.
- :class:`JournalUnavailable` (temporary): PostgreSQL cannot be reached or dropped the
  connection; the caller waits and tries again (the run loop reports ``WaitingForJournal``).
  A write whose connection broke may have committed anyway: retry journal appends with the
  same ``event_id`` so they land once.
- :class:`SchemaTooOld` (permanent): the database lacks migrations this version needs.
- :class:`MigrationError` (permanent): the migrations on disk and in the database disagree.
- :class:`RecordNotFound` (permanent): a run, tool call or item the caller named is missing.
- :class:`InvalidTransition` (permanent): a tool call record cannot move to the asked status.
- :class:`StoreRejected` (permanent): the database refused the data (constraint, bad value).

A malformed database URL is a :class:`~mission_control.errors.ConfigError` naming
``DATABASE_URL`` (:func:`check_database_url`); libpq quotes the offending part of the URL in
its message, so the password is masked there and the original exception is not chained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

import psycopg
import psycopg_pool
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict

from mission_control.errors import ConfigError, MissionControlError, PermanentError, TemporaryError

__all__ = [
    "InvalidTransition",
    "JournalUnavailable",
    "MigrationError",
    "RecordNotFound",
    "SchemaTooOld",
    "StoreError",
    "StoreRejected",
    "check_database_url",
    "translate_errors",
]

# How long a caller should wait before trying again after the database went away.
_RETRY_AFTER_SECONDS = 1.0


class StoreError(MissionControlError):
    """Base of every error raised by the PostgreSQL store."""


class JournalUnavailable(StoreError, TemporaryError):
    """PostgreSQL is unreachable or the connection broke; try again after ``retry_after``.

    When the connection broke during a write, the write may have committed before it did.
    """


class SchemaTooOld(StoreError, PermanentError):
    """The database schema is older than this version needs."""

    def __init__(self, *, current: int | None, required: int, detail: str = "") -> None:
        if detail:
            found = f"a schema without what this version needs ({detail})"
        elif current is None:
            found = "no schema"
        else:
            found = f"schema version {current}"
        super().__init__(
            f"the database has {found}, this version needs schema version {required}: "
            "run `mission-control migrate` against DATABASE_URL"
        )
        self.current = current
        self.required = required


class MigrationError(StoreError, PermanentError):
    """Applied migrations do not match the ones shipped with this version."""


class RecordNotFound(StoreError, PermanentError):
    """The record the caller named does not exist."""


class InvalidTransition(StoreError, PermanentError):
    """A tool call record cannot move from its current status to the one asked for."""


class StoreRejected(StoreError, PermanentError):
    """The database refused the statement (constraint violation, invalid value, privilege)."""


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Turn psycopg and pool exceptions raised inside the block into the store's own types.

    ``action`` names what was being done, for the message ("append to the journal").
    """
    try:
        yield
    except psycopg_pool.PoolTimeout as exc:
        raise JournalUnavailable(
            f"could not {action}: no database connection became available ({exc})",
            retry_after=_RETRY_AFTER_SECONDS,
        ) from exc
    except psycopg_pool.PoolClosed as exc:
        raise StoreError(f"could not {action}: the store is closed") from exc
    except (pgerrors.UndefinedTable, pgerrors.UndefinedColumn) as exc:
        # A missing table or column means the schema predates this code.
        raise SchemaTooOld(
            current=None, required=_required_version(), detail=_first_line(exc)
        ) from exc
    except psycopg.OperationalError as exc:
        # Connection failures, server shutdown, deadlocks and serialisation failures: all of
        # them may succeed when tried again. A connection lost during COMMIT can hide a
        # commit that happened, hence idempotent retries (``event_id``, same-status resolve).
        raise JournalUnavailable(
            f"could not {action}: {_first_line(exc)}", retry_after=_RETRY_AFTER_SECONDS
        ) from exc
    except pgerrors.ForeignKeyViolation as exc:
        raise RecordNotFound(f"could not {action}: {_first_line(exc)}") from exc
    except (psycopg.IntegrityError, psycopg.DataError, pgerrors.InsufficientPrivilege) as exc:
        raise StoreRejected(f"could not {action}: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"could not {action}: {_first_line(exc)}") from exc


def check_database_url(url: str) -> None:
    """Raise ``ConfigError`` (password masked) unless libpq can parse ``url``."""
    try:
        conninfo_to_dict(url)
    except psycopg.Error as exc:
        reason = _mask_password(_first_line(exc), url=url)
        # ``from None``: the original message, which may quote the password, must not reach a
        # traceback either.
        raise ConfigError(
            f"DATABASE_URL: is not a valid PostgreSQL URL ({reason}); "
            "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE with special characters "
            "percent-encoded"
        ) from None


def _mask_password(text: str, *, url: str) -> str:
    secrets = {url}
    # Parsed by hand: the URL is malformed, so a URL parser may refuse it.
    _, found, rest = url.partition("://")
    if found and "@" in rest:
        userinfo = rest.rpartition("@")[0]
        password = userinfo.partition(":")[2]
        if password:
            secrets |= {password, unquote(password)}
    for word in url.split():
        key, equals, value = word.partition("=")
        if equals and key.strip().lower() == "password" and value:
            secrets |= {value, value.strip("'")}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _required_version() -> int:
    # Imported late: the migration runner imports this module.
    from mission_control.store.migrate import required_version

    return required_version()
