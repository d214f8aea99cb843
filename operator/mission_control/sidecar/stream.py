"""``GET /api/v1/task-runs/{namespace}/{name}/events/stream``: the journal as Server-Sent Events.

The stream replays the journal from the start (or after ``Last-Event-ID``), then follows it
live through the process's one listening connection (:mod:`.fanout`), and ends after
``run.finished``. ``id:`` is the event's seq, ``event:`` its type, ``data:`` its JSON; the first
message carries a ``retry:`` hint; a comment every ``MC_SIDECAR_HEARTBEAT_SECONDS`` keeps
proxies from closing an idle stream. A run that does not exist (or that the caller may not
read) is an error before the stream starts. A client that falls ``MC_SIDECAR_CLIENT_BUFFER``
events behind gets a final comment and is disconnected; it can resume with ``Last-Event-ID``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from mission_control.sidecar.errors import ApiError
from mission_control.sidecar.fanout import FINISHED, PAGE, encode_event
from mission_control.sidecar.routes import ERROR_RESPONSES, Name, Namespace, find_run
from mission_control.sidecar.services import (
    CallerDep,
    ServicesDep,
    SidecarServices,
    refuse_nul,
)

__all__ = ["DROPPED_COMMENT", "router"]

#: The last line a dropped client gets.
DROPPED_COMMENT = "dropped: this client fell too far behind; reconnect with Last-Event-ID"

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=[Depends(refuse_nul)])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: id = seq, event = type, data = the event as JSON.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _after(last_event_id: str | None) -> int:
    if last_event_id is None or not last_event_id.strip():
        return 0
    try:
        after = int(last_event_id.strip())
    except ValueError:
        after = -1
    if not 0 <= after < 2**62:
        raise ApiError(400, "header 'Last-Event-ID': must be the seq of an event (an integer)")
    return after


@router.get(
    "/task-runs/{namespace}/{name}/events/stream",
    response_class=EventSourceResponse,
    responses=_STREAM_DOC,
)
async def stream_events(
    services: ServicesDep,
    caller: CallerDep,
    namespace: Namespace,
    name: Name,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=32)] = None,
) -> EventSourceResponse:
    """The run's journal, replayed then live, until ``run.finished``."""
    after = _after(last_event_id)
    run = await find_run(services, caller, namespace=namespace, name=name)
    # Not listening (the database is away): a 503 now rather than a stream that never moves.
    await services.hub.wait_listening(10.0)
    return EventSourceResponse(
        _events(services, run_uid=run.uid, after=after),
        ping=services.heartbeat_seconds,
        send_timeout=services.send_timeout_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    services: SidecarServices, *, run_uid: str, after: int
) -> AsyncIterator[bytes | ServerSentEvent]:
    metrics = services.metrics
    metrics.sse_clients.inc()
    try:
        async with services.hub.subscribe(run_uid) as subscription:
            # Sent once subscribed: a client that has it will not miss a later event.
            yield ServerSentEvent(comment=f"run {run_uid}", retry=services.retry_ms)
            last, last_type = after, ""
            # The journal up to where the live feed took over, read by this client.
            while last < subscription.joined_at:
                page = await services.reads.event_page(
                    run_uid, after=last, upto=subscription.joined_at, limit=PAGE
                )
                if not page:
                    break
                for event in page:
                    yield encode_event(event)
                    metrics.sse_events.inc()
                    last, last_type = event.seq, event.type
                    if last_type == FINISHED:
                        return
            if after and after == subscription.joined_at:
                # Resumed at the newest event: the run may have ended with it.
                newest = await services.reads.event_page(run_uid, after=after - 1, limit=1)
                if newest and newest[0].type == FINISHED:
                    return
            while True:
                deliveries = await subscription.next()
                if deliveries is None:
                    yield ServerSentEvent(comment=DROPPED_COMMENT)
                    return
                chunk: list[bytes] = []
                finished = False
                for delivery in deliveries:
                    if delivery.seq > last:
                        chunk.append(delivery.data)
                        last = delivery.seq
                        if delivery.type == FINISHED:
                            finished = True
                            break
                if chunk:
                    yield b"".join(chunk)
                    metrics.sse_events.inc(len(chunk))
                if finished:
                    return
    finally:
        metrics.sse_clients.dec()
