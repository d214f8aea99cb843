"""The run queue: slots, creation order, positions, and leaving the line at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from mission_control.handlers.queue import QueuedPosition, QueueKey, RunQueue


def _key(second: int, name: str) -> QueueKey:
    return (datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC), name, f"uid-{name}")


class _Line:
    """Runs waiting in a queue, with what each was told."""

    def __init__(self, queue: RunQueue) -> None:
        self.queue = queue
        self.told: dict[str, list[int]] = {}
        self.admitted: list[str] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def join(self, key: QueueKey) -> None:
        name = key[1]
        self.told[name] = []

        def show(position: int) -> None:
            self.told[name].append(position)

        async def wait() -> None:
            await self.queue.wait_turn(key, on_position=show)
            self.admitted.append(name)

        self.tasks[name] = asyncio.create_task(wait())


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_waiting_runs_start_in_creation_order_not_arrival_order() -> None:
    queue = RunQueue(2)
    line = _Line(queue)
    for key in (_key(1, "a"), _key(2, "b"), _key(9, "late"), _key(4, "d"), _key(3, "c")):
        line.join(key)
        await _settle()
    assert line.admitted == ["a", "b"]
    assert queue.waiting() == ["uid-c", "uid-d", "uid-late"]
    # First in line when it arrived, moved back by the older runs that came after it.
    assert line.told["late"] == [1, 2, 3]

    for name in ("a", "b", "c", "d", "late"):
        queue.release(f"uid-{name}")
        await _settle()
        assert queue.active <= 2
    assert line.admitted == ["a", "b", "c", "d", "late"]
    assert line.told["late"] == [1, 2, 3, 2, 1]
    assert line.told["a"] == []  # a free slot at once: nothing to show


async def test_a_cancelled_waiter_leaves_at_once_and_the_ones_behind_move_up() -> None:
    queue = RunQueue(1)
    line = _Line(queue)
    for key in (_key(1, "a"), _key(2, "b"), _key(3, "c")):
        line.join(key)
    await _settle()
    assert line.told == {"a": [], "b": [1], "c": [2]}

    line.tasks["b"].cancel()
    await _settle()

    assert queue.waiting() == ["uid-c"]
    assert line.told["c"] == [2, 1]
    queue.release("uid-a")
    await _settle()
    assert line.admitted == ["a", "c"]
    queue.release("uid-c")
    await asyncio.gather(*line.tasks.values(), return_exceptions=True)


async def test_a_waiter_cancelled_just_as_it_was_admitted_gives_its_slot_on() -> None:
    queue = RunQueue(1)
    line = _Line(queue)
    line.join(_key(1, "a"))
    line.join(_key(2, "b"))
    line.join(_key(3, "c"))
    await _settle()

    queue.release("uid-a")  # b is admitted, but has not run yet
    line.tasks["b"].cancel()
    await _settle()

    assert line.admitted == ["a", "c"]
    queue.release("uid-c")
    await asyncio.gather(*line.tasks.values(), return_exceptions=True)


async def test_a_waiting_run_shows_its_first_place_at_once_then_the_latest_after_a_pause() -> None:
    shown: list[int] = []
    second = asyncio.Event()

    async def show(position: int) -> None:
        shown.append(position)
        if len(shown) == 2:
            second.set()

    position = QueuedPosition(show, first_pause=0.2)
    for moved in (9, 8, 7, 6):
        position.moved(moved)
        await _settle()
    first = list(shown)
    await asyncio.wait_for(second.wait(), timeout=30)
    await position.close()
    position.check()

    assert first == [9]  # the moves meanwhile are held back...
    assert shown == [9, 6]  # ...and only the latest is shown


async def test_closing_waits_for_the_write_in_flight_and_drops_the_rest() -> None:
    release = asyncio.Event()
    writing = asyncio.Event()
    shown: list[int] = []

    async def show(position: int) -> None:
        writing.set()
        await release.wait()
        shown.append(position)

    position = QueuedPosition(show)
    position.moved(3)
    await writing.wait()
    closing = asyncio.create_task(position.close())
    await _settle()
    still_closing = not closing.done()
    position.moved(2)
    release.set()
    await closing

    assert still_closing
    assert shown == [3]
