"""A small reader of Server-Sent Events over httpx that keeps comments (heartbeats) too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Message:
    """One dispatched message, or a comment line (``comment`` set, nothing else)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    retry: int | None = None
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """Comments as they come, and each message at its blank line."""
    current = Message()
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data or current.event or current.id or current.retry is not None:
                current.data = "\n".join(data)
                yield current
            current, data = Message(), []
        elif line.startswith(":"):
            yield Message(comment=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "id":
                current.id = value
            elif name == "event":
                current.event = value
            elif name == "retry":
                current.retry = int(value)


@dataclass
class Received:
    """What one client got from a stream, in order."""

    events: list[Message] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None

    @property
    def seqs(self) -> list[int]:
        return [int(m.id or 0) for m in self.events]

    @property
    def types(self) -> list[str]:
        return [m.event or "" for m in self.events]


async def read_stream(
    client: httpx.AsyncClient,
    path: str,
    *,
    last_event_id: int | None = None,
    connected: Any = None,
    progress: Any = None,
) -> Received:
    """Read a stream to its end; ``connected`` (an asyncio.Event) is set at its first line,
    and each event's seq is put on ``progress`` (an asyncio.Queue) as it arrives."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    got = Received()
    async with client.stream("GET", path, headers=headers) as response:
        response.raise_for_status()
        async for message in messages(response):
            if message.comment is not None:
                got.comments.append(message.comment)
            elif message.event is None and message.retry is not None:
                got.retry = message.retry
            else:
                got.events.append(message)
                if progress is not None:
                    progress.put_nowait(int(message.id or 0))
            if connected is not None:
                connected.set()
    return got
