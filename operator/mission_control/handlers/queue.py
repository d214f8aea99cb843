"""The run queue: at most ``MC_MAX_CONCURRENT_RUNS`` active runs, the rest in creation order.

A run asks for a slot with :meth:`RunQueue.wait_turn`; if a slot is free and nobody waits,
it gets it at once. Otherwise it waits in a list ordered by its key (the TaskRun's
``creationTimestamp``, then its name: the API server stamps whole seconds), and is told its
position whenever that changes, so its status can say it (:class:`QueuedPosition` shows the
moves, coalesced). A waiter that is cancelled (the run
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

__all__ = [
    "QUEUED_FIRST_PAUSE_SECONDS",
    "QUEUED_MAX_PAUSE_SECONDS",
    "QueueKey",
    "QueuedPosition",
    "RunQueue",
]

#: After a waiting run showed its place in line, the next change is shown no sooner than this;
#: the pause doubles after each, up to the maximum (see :class:`QueuedPosition`).
QUEUED_FIRST_PAUSE_SECONDS = 5.0
QUEUED_MAX_PAUSE_SECONDS = 60.0

#: How a waiting run sorts: creation time, name, uid.
QueueKey = tuple[datetime, str, str]


@dataclass(order=True)
class _Waiter:
    key: QueueKey
    on_position: Callable[[int], None] = field(compare=False)
    told: int = field(compare=False, default=0)
    admitted: asyncio.Event = field(compare=False, default_factory=asyncio.Event)

    def tell(self, position: int) -> None:
        if position != self.told:
            self.told = position
            self.on_position(position)


class RunQueue:
    """Slots for active runs and the ordered list of runs waiting for one.

    A waiter is woken only when it is admitted: its place in line is told through its
    synchronous ``on_position`` by whoever moved the line (one pass over the line per
    change), not by waking every waiting task to look again, which cost a task switch per
    waiting run per admission.
    """

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

    async def wait_turn(self, key: QueueKey, *, on_position: Callable[[int], None]) -> None:
        """Return once the run holds a slot (release it with :meth:`release`).

        ``on_position(n)`` is called with the run's 1-based place in line each time it
        changes while it waits; never when a slot is free at once. It must not block (it
        is called by whichever run moved the line).
        """
        uid = key[2]
        if not self._waiting and len(self._active) < self.limit:
            self._active.add(uid)
            return
        waiter = _Waiter(key, on_position)
        bisect.insort(self._waiting, waiter)
        self._retell()  # the runs created later moved back one place
        try:
            await waiter.admitted.wait()
        except BaseException:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
                self._retell()
            else:  # admitted while being cancelled: give the slot back
                self.release(uid)
            raise

    def release(self, uid: str) -> None:
        """The run no longer holds its slot; the first waiter (if any) gets it."""
        self._active.discard(uid)
        admitted = False
        while self._waiting and len(self._active) < self.limit:
            first = self._waiting.pop(0)
            self._active.add(first.key[2])
            first.admitted.set()
            admitted = True
        if admitted:
            self._retell()

    def _retell(self) -> None:
        """Tell every waiter whose place changed its new place."""
        for position, waiter in enumerate(self._waiting, start=1):
            waiter.tell(position)


class QueuedPosition:
    """Shows a waiting run's place in line through ``show``, coalescing the moves.

    With many more runs than slots, every admission moves every waiting run up one place:
    showing each move costs one status write per waiting run per admission (about fifty per
    run with 200 runs and 20 slots). Here the first place is shown at once; later moves are
    shown at most once per pause, the latest place each time, and the pause doubles up to
    :data:`QUEUED_MAX_PAUSE_SECONDS`. :meth:`close` waits for a write in flight (so it
    cannot land after the run's first status) and drops a move not yet shown.
    """

    def __init__(
        self,
        show: Callable[[int], Awaitable[None]],
        *,
        first_pause: float = QUEUED_FIRST_PAUSE_SECONDS,
        max_pause: float = QUEUED_MAX_PAUSE_SECONDS,
    ) -> None:
        self._show = show
        self._first_pause = first_pause
        self._max_pause = max_pause
        self._latest = 0
        self._changed = asyncio.Event()
        self._writing = asyncio.Lock()
        self._shower: asyncio.Task[None] | None = None

    def moved(self, position: int) -> None:
        """The run's new place in line (the queue's ``on_position``)."""
        self._latest = position
        self._changed.set()
        if self._shower is None:
            self._shower = asyncio.create_task(self._show_moves(), name="queued position")

    async def _show_moves(self) -> None:
        told, pause = 0, self._first_pause
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._latest == told:
                continue
            told = self._latest
            async with self._writing:
                await self._show(told)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._max_pause)

    async def close(self) -> None:
        """Stop showing moves, after the write in flight (if any) is done."""
        if self._shower is None:
            return
        async with self._writing:
            if not self._shower.done():
                self._shower.cancel()
        # A failure is not raised here (the run may be leaving anyway): see ``check``.
        await asyncio.gather(self._shower, return_exceptions=True)

    def check(self) -> None:
        """Raise what made showing the place fail, if anything did."""
        if self._shower is not None and self._shower.done() and not self._shower.cancelled():
            self._shower.result()
