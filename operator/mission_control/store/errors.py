"""The store's exception tree.

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

psycopg's exceptions become these in one place,
:func:`~mission_control.store.translate.translate_errors`.
A malformed database URL is a :class:`~mission_control.errors.ConfigError` naming
``DATABASE_URL`` (:func:`~mission_control.store.database.check_database_url`).
"""

from __future__ import annotations

from mission_control.errors import MissionControlError, PermanentError, TemporaryError

__all__ = [
    "InvalidTransition",
    "JournalUnavailable",
    "MigrationError",
    "RecordNotFound",
    "SchemaTooOld",
    "StoreError",
    "StoreRejected",
]


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
