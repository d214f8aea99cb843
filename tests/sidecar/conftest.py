"""Fixtures of the sidecar tests: a read-only database role, the sidecar served over it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql

from mission_control.store import Store, apply_migrations
from tests.sidecar.harness import Sidecar, as_role, running_sidecar


@pytest.fixture
async def readonly_url(database_url: str) -> AsyncIterator[str]:
    """The test database as a role granted SELECT only (what the sidecar connects as)."""
    role = f"mc_ro_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    await apply_migrations(database_url, readonly_role=role)
    yield as_role(database_url, role)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))


@pytest.fixture
async def reader(readonly_url: str) -> AsyncIterator[Store]:
    async with Store.open(readonly_url, max_size=8) as opened:
        yield opened


@pytest.fixture
async def sidecar(reader: Store) -> AsyncIterator[Sidecar]:
    async with running_sidecar(reader) as running:
        yield running
