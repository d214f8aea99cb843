"""The one place where psycopg's and the pool's exceptions become the store's own types.

Kept apart from :mod:`.errors` (which only defines the types) so that the migration runner,
which uses the translation, and the translation, which names the schema version the code
needs (:mod:`.schema`), do not import each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool
from psycopg import errors as pgerrors

from mission_control.errors import first_line
from mission_control.store.errors import (
    JournalUnavailable,
    RecordNotFound,
    SchemaTooOld,
    StoreError,
    StoreRejected,
)
from mission_control.store.schema import required_version

__all__ = ["translate_errors"]

# How long a caller should wait before trying again after the database went away.
_RETRY_AFTER_SECONDS = 1.0


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
            current=None, required=required_version(), detail=first_line(exc)
        ) from exc
    except psycopg.OperationalError as exc:
        # Connection failures, server shutdown, deadlocks and serialisation failures: all of
        # them may succeed when tried again. A connection lost during COMMIT can hide a
        # commit that happened, hence idempotent retries (``event_id``, same-status resolve).
        raise JournalUnavailable(
            f"could not {action}: {first_line(exc)}", retry_after=_RETRY_AFTER_SECONDS
        ) from exc
    except pgerrors.ForeignKeyViolation as exc:
        raise RecordNotFound(f"could not {action}: {first_line(exc)}") from exc
    except (psycopg.IntegrityError, psycopg.DataError, pgerrors.InsufficientPrivilege) as exc:
        raise StoreRejected(f"could not {action}: {first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"could not {action}: {first_line(exc)}") from exc
