"""The migrations shipped with this version, and the schema version it needs.

Migrations are the ``NNNN_name.sql`` files in ``store/migrations``, numbered 1..N without gaps.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mission_control.store.errors import MigrationError

__all__ = ["Migration", "required_version", "shipped_migrations"]

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, kw_only=True)
class Migration:
    """One shipped migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@cache
def shipped_migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this version, in version order."""
    found: list[Migration] = []
    for entry in (resources.files("mission_control.store") / "migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        found.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                sql=entry.read_text(encoding="utf-8"),
            )
        )
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"shipped migrations must be numbered 1..N, found {versions}")
    return tuple(found)


def required_version() -> int:
    """The schema version this code needs: the newest shipped migration."""
    return shipped_migrations()[-1].version
