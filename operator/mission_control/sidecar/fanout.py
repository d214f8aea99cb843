"""One ``LISTEN`` connection fanned out in memory to every stream client.

The :class:`EventHub` listens on the journal channel once for the whole process. Clients of
the same run share one :class:`_Feed`: on a notice it reads the new events once (through the
pool), encodes each once, and hands the same bytes to every client's bounded buffer, so the
database work per event does not grow with the number of clients. A client whose buffer is
full is dropped (told so by its stream) instead of slowing the others.

No event is missed or sent twice: a client joins its feed at the feed's current seq ``L``
without yielding to the event loop, receives live every event after ``L``, and replays the
journal up to ``L`` itself. After the listening connection is lost and comes back, every feed
reads what it may have missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from mission_control.store import JournalEvent, JournalUnavailable, Store
from mission_control.store.notices import listen_for_events
from mission_control.store.reads import SidecarReads

__all__ = ["FINISHED", "Delivery", "EventHub", "Subscription", "encode_event"]

logger = logging.getLogger(__name__)

#: The event after which a run's stream ends.
FINISHED = "run.finished"
#: Events read from the journal per query.
PAGE = 500
#: Seconds between attempts to listen again after the connection was lost.
RELISTEN_SECONDS = 1.0


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One event, encoded once as an SSE message and shared by every client."""

    seq: int
    type: str
    data: bytes


def encode_event(event: JournalEvent) -> bytes:
    """The SSE message of an event: ``id`` is its seq, ``event`` its type, ``data`` its JSON."""
    body = {
        "seq": event.seq,
        "type": event.type,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }
    # One line of JSON: the data field cannot contain a raw newline.
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class Subscription:
    """A client's place in a feed: a bounded buffer of live events after ``joined_at``."""

    run_uid: str
    joined_at: int
    limit: int
    buffer: deque[Delivery] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False

    def offer(self, delivery: Delivery) -> bool:
        """Buffer ``delivery``; False (and the buffer emptied) when the client is too slow."""
        if len(self.buffer) >= self.limit:
            self.dropped = True
            self.buffer.clear()
            self.wake.set()
            return False
        self.buffer.append(delivery)
        self.wake.set()
        return True

    async def next(self) -> list[Delivery] | None:
        """Every live event buffered (waiting for one); None once the client was dropped.

        Taking all of them at once lets a client that fell behind catch up in one write.
        """
        while not self.buffer:
            if self.dropped:
                return None
            self.wake.clear()
            await self.wake.wait()
        if self.dropped:
            return None
        taken = list(self.buffer)
        self.buffer.clear()
        return taken


@dataclass(eq=False)
class _Feed:
    run_uid: str
    last_seq: int
    subscribers: set[Subscription] = field(default_factory=set)
    news: asyncio.Event = field(default_factory=asyncio.Event)
    pump: asyncio.Task[None] | None = None


class EventHub:
    """Listens once, reads each run's new events once, and fans them out to its clients."""

    def __init__(
        self,
        *,
        store: Store,
        client_buffer: int = 1000,
        on_dropped: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._reads = SidecarReads(store.db)
        self._buffer = client_buffer
        self._feeds: dict[str, _Feed] = {}
        self._listening = asyncio.Event()
        self._on_dropped = on_dropped

    @property
    def reads(self) -> SidecarReads:
        return self._reads

    async def run(self) -> None:
        """Listen until cancelled; after a lost connection, listen again and catch up."""
        while True:
            try:
                async with listen_for_events(self._store.db.url, idle_seconds=30.0) as notices:
                    self._listening.set()
                    for each in self._feeds.values():
                        each.news.set()  # anything committed while deaf
                    async for notice in notices:
                        if notice is None:
                            continue
                        feed = self._feeds.get(notice.run_uid)
                        if feed is not None and notice.seq > feed.last_seq:
                            feed.news.set()
            except JournalUnavailable as exc:
                self._listening.clear()
                logger.warning("listening to the journal failed, trying again: %s", exc)
                await asyncio.sleep(RELISTEN_SECONDS)

    async def wait_listening(self, wait_seconds: float) -> None:
        """Return once the hub listens; ``JournalUnavailable`` if not within ``wait_seconds``."""
        try:
            async with asyncio.timeout(wait_seconds):
                await self._listening.wait()
        except TimeoutError:
            raise JournalUnavailable(
                "the event stream is not available: not listening to the journal",
                retry_after=RELISTEN_SECONDS,
            ) from None

    @asynccontextmanager
    async def subscribe(
        self, run_uid: str, *, wait_seconds: float = 10.0
    ) -> AsyncIterator[Subscription]:
        """Join the run's feed; the subscription gets every event after its ``joined_at``."""
        await self.wait_listening(wait_seconds)
        feed = self._feeds.get(run_uid)
        if feed is None:
            # Listening already, so any event committed after this read is announced.
            last_seq = await self._store.journal.last_seq(run_uid)
            feed = self._feeds.get(run_uid)  # another client may have made it meanwhile
            if feed is None:
                feed = _Feed(run_uid=run_uid, last_seq=last_seq)
                self._feeds[run_uid] = feed
                feed.pump = asyncio.create_task(self._pump(feed), name=f"feed {run_uid}")
        subscription = Subscription(run_uid=run_uid, joined_at=feed.last_seq, limit=self._buffer)
        feed.subscribers.add(subscription)
        try:
            yield subscription
        finally:
            feed.subscribers.discard(subscription)
            if not feed.subscribers and self._feeds.get(run_uid) is feed:
                del self._feeds[run_uid]
                if feed.pump is not None:
                    feed.pump.cancel()
                    with suppress(asyncio.CancelledError):
                        await feed.pump

    @property
    def feeds(self) -> int:
        """Runs with at least one client."""
        return len(self._feeds)

    async def _pump(self, feed: _Feed) -> None:
        while True:
            await feed.news.wait()
            feed.news.clear()
            try:
                await self._read_new(feed)
            except JournalUnavailable as exc:
                logger.warning("reading new events of run %s failed: %s", feed.run_uid, exc)
                await asyncio.sleep(RELISTEN_SECONDS)
                feed.news.set()

    async def _read_new(self, feed: _Feed) -> None:
        while True:
            events = await self._reads.event_page(feed.run_uid, after=feed.last_seq, limit=PAGE)
            for event in events:
                delivery = Delivery(seq=event.seq, type=event.type, data=encode_event(event))
                feed.last_seq = event.seq
                for subscription in list(feed.subscribers):
                    if not subscription.offer(delivery):
                        feed.subscribers.discard(subscription)
                        self._on_dropped()
            if len(events) < PAGE:
                return
