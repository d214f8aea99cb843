"""The run queue: at most ``MC_MAX_CONCURRENT_RUNS`` active runs, the rest in creation order.

A run asks for a slot with :meth:`RunQueue.wait_turn`; if a slot is free and nobody waits,
it gets it at once. Otherwise it waits in a list ordered by its key (the TaskRun's
``creationTimestamp``, then its name: the API server stamps whole seconds), and is told its
position whenever that changes, so its status can say it. A waiter that is cancelled (the run
was cancelled, deleted, or the operator stops) leaves the list at once and the runs behind it
move up. The queue lives in the operator's memory: after a restart the runs queue again in
the same order, as kopf starts their daemons.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["QueueKey", "RunQueue"]

#: How a waiting run sorts: creation time, name, uid.
QueueKey = tuple[datetime, str, str]


@dataclass(order=True)
class _Waiter:
    key: QueueKey
    moved: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class RunQueue:
    """Slots for active runs and the ordered list of runs waiting for one."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a queue needs at least one slot")
        self.limit = limit
        self._active: set[str] = set()
        self._waiting: list[_Waiter] = []

    @property
    def active(self) -> int:
        return len(self._active)

    def waiting(self) -> list[str]:
        """The uids of waiting runs, first in line first."""
        return [w.key[2] for w in self._waiting]

    async def wait_turn(
        self, key: QueueKey, *, on_position: Callable[[int], Awaitable[None]]
    ) -> None:
        """Return once the run holds a slot (release it with :meth:`release`).

        ``on_position(n)`` is awaited with the run's 1-based place in line each time it
        changes while it waits; never when a slot is free at once.
        """
        uid = key[2]
        if not self._waiting and len(self._active) < self.limit:
            self._active.add(uid)
            return
        waiter = _Waiter(key)
        bisect.insort(self._waiting, waiter)
        self._nudge()  # the runs created later moved back one place
        told = 0
        try:
            while uid not in self._active:
                position = self._waiting.index(waiter) + 1
                if position != told:
                    told = position
                    await on_position(position)
                    continue  # the queue may have moved while we reported
                await waiter.moved.wait()
                waiter.moved.clear()
        except BaseException:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
                self._nudge()
            else:  # admitted while being cancelled: give the slot back
                self.release(uid)
            raise

    def release(self, uid: str) -> None:
        """The run no longer holds its slot; the first waiter (if any) gets it."""
        self._active.discard(uid)
        self._admit()

    def _admit(self) -> None:
        admitted = False
        while self._waiting and len(self._active) < self.limit:
            first = self._waiting.pop(0)
            self._active.add(first.key[2])
            first.moved.set()
            admitted = True
        if admitted:
            self._nudge()

    def _nudge(self) -> None:
        """Every waiter looks at its position again (someone ahead left the line)."""
        for waiter in self._waiting:
            waiter.moved.set()
