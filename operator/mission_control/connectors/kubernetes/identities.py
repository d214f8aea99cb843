"""A bounded cache of per-identity API clients, least recently used evicted first.

Each identity the connector impersonates gets its own client (and connection pool). Runs in
many namespaces would otherwise grow the cache, and the open connections, without end. An
evicted client is closed at once when idle, else when its last call ends, so a call in
flight never loses its connection. Used from the event loop thread only: no lock.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["IdentityCache"]

C = TypeVar("C")
Identity = str | None


class IdentityCache(Generic[C]):
    """At most ``limit`` clients, one per identity (None: the connector's own)."""

    def __init__(
        self, *, limit: int, create: Callable[[Identity], C], close: Callable[[C], None]
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self._limit = limit
        self._create = create
        self._close = close
        self._clients: OrderedDict[Identity, C] = OrderedDict()
        self._in_use: Counter[int] = Counter()
        self._retired: dict[int, C] = {}  # evicted while in use: closed after their last call

    def identities(self) -> list[Identity]:
        """The cached identities, least recently used first."""
        return list(self._clients)

    @contextmanager
    def use(self, identity: Identity) -> Iterator[C]:
        """The identity's client (created if needed), kept open while the block runs."""
        client = self._get(identity)
        self._in_use[id(client)] += 1
        try:
            yield client
        finally:
            self._in_use[id(client)] -= 1
            if not self._in_use[id(client)]:
                del self._in_use[id(client)]
                retired = self._retired.pop(id(client), None)
                if retired is not None:
                    self._close(retired)

    def close_all(self) -> None:
        clients, self._clients = self._clients, OrderedDict()
        retired, self._retired = self._retired, {}
        for client in [*clients.values(), *retired.values()]:
            self._close(client)

    def _get(self, identity: Identity) -> C:
        client = self._clients.get(identity)
        if client is not None:
            self._clients.move_to_end(identity)
            return client
        client = self._create(identity)
        self._clients[identity] = client
        while len(self._clients) > self._limit:
            _, oldest = self._clients.popitem(last=False)
            if self._in_use[id(oldest)]:
                self._retired[id(oldest)] = oldest
            else:
                self._close(oldest)
        return client
