"""Notifications of runs' transitions, sent in the background so a run never waits for them.

:class:`RunNotices` watches one run's status patches (through its
:class:`~.ports.StatusReporter`) and hands each notifiable transition to the :class:`Notifier`,
once per run and transition, without waiting: a bounded queue takes it, or the notice is
dropped (counted, logged) when the queue is full. The notifier's worker then, per notice:

1. claims it in the store (``notifications_sent``): a transition the run reports again, after
   an operator restart for instance, was claimed before and is not sent twice;
2. gathers the receivers: the operator-wide URLs (``MC_NOTIFY_URLS_FILE``) and those of the
   policies' Secrets, read as the agent ServiceAccount of the Secret's namespace (the operator
   itself never reads Secrets);
3. sends one message to each receiver through Apprise, retrying with exponential backoff for
   at most ``MC_NOTIFY_RETRY_SECONDS``; a receiver that never took it gets one
   ``NotificationFailed`` Event on the TaskRun, naming its service, never its URL.

The metric ``mission_control_notifications_total{outcome}`` counts each receiver's outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from mission_control.connectors.kubernetes.client import KubernetesConnector
from mission_control.connectors.kubernetes.custom import MissionControlObjects, ObjectRef
from mission_control.connectors.notify import (
    AppriseSender,
    NotificationError,
    Outgoing,
    ReceiverRefused,
    parse_receivers,
)
from mission_control.errors import MissionControlError
from mission_control.resources.notify import NotifyTransition
from mission_control.runs.notify import (
    DEFAULT_ON,
    Message,
    Notice,
    NotifyRoute,
    compose,
    notice_of,
    wanted_by,
    wanted_on,
)
from mission_control.runs.resolve import impersonated_user
from mission_control.store import NotificationOutcome, Store, StoreError
from mission_control.telemetry import OperatorMetrics

__all__ = ["FAILED_EVENT", "Notifier", "RunNotices"]

log = logging.getLogger(__name__)

#: The Event a receiver that never took a message leaves on the TaskRun.
FAILED_EVENT = "NotificationFailed"
#: Notices sent at the same time; the others wait in the queue.
CONCURRENT_NOTICES = 8
#: The first pause between attempts, and the longest.
FIRST_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 60.0
#: On stop, how long messages under way may take to finish and be recorded as sent.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True)
class _Dispatch:
    notice: Notice
    routes: tuple[NotifyRoute, ...]
    run_account: str
    about: ObjectRef


@dataclass(frozen=True, kw_only=True)
class _Receiver:
    url: str = field(repr=False)
    source: str  # where the URL came from, for messages (never the URL)


class Notifier:
    """The operator's notification queue and its worker (see the module doc).

    ``operator_urls`` hear of the transitions in ``operator_on``; ``agent_account`` is the
    ServiceAccount a ClusterToolPolicy's Secret is read as, in the Secret's namespace.
    """

    def __init__(
        self,
        *,
        sender: AppriseSender,
        store: Store,
        objects: MissionControlObjects,
        kubernetes: KubernetesConnector,
        metrics: OperatorMetrics,
        agent_account: str,
        operator_urls: Sequence[str] = (),
        operator_on: frozenset[NotifyTransition] = DEFAULT_ON,
        public_url: str | None = None,
        queue_size: int = 1000,
        retry_seconds: float = 300.0,
    ) -> None:
        self._sender = sender
        self._store = store
        self._objects = objects
        self._kubernetes = kubernetes
        self._metrics = metrics
        self._agent_account = agent_account
        self._operator_urls = tuple(operator_urls)
        self._operator_on = operator_on
        self._public_url = public_url
        self._retry_seconds = retry_seconds
        self._queue: asyncio.Queue[_Dispatch] = asyncio.Queue(maxsize=queue_size)

    def for_run(self, *, about: ObjectRef, task: str) -> RunNotices:
        """The watcher of one run's status patches."""
        return RunNotices(self, about=about, task=task)

    def wants(self, notice: Notice, routes: Sequence[NotifyRoute]) -> bool:
        """Whether anyone hears of ``notice``."""
        if self._operator_urls and wanted_on(self._operator_on, notice.transition):
            return True
        return any(wanted_by(route, notice) for route in routes)

    def submit(
        self, notice: Notice, *, routes: Sequence[NotifyRoute], run_account: str, about: ObjectRef
    ) -> None:
        """Queue ``notice`` without waiting; dropped (and counted) when the queue is full."""
        dispatch = _Dispatch(
            notice=notice, routes=tuple(routes), run_account=run_account, about=about
        )
        try:
            self._queue.put_nowait(dispatch)
        except asyncio.QueueFull:
            self._metrics.notification(outcome="dropped")
            log.warning(
                "notification of %s dropped: %d notifications are waiting already",
                notice.transition,
                self._queue.qsize(),
            )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Notifier]:
        """Send queued notices while the context is open; stop after.

        Messages under way get :data:`STOP_GRACE_SECONDS` to finish, so that one a receiver
        took is recorded as sent; the queued rest is dropped (a restart does not send a
        message whose record says it may have gone out).
        """
        worker = asyncio.create_task(self._work(), name="notifications")
        try:
            yield self
        finally:
            worker.cancel()
            with suppress(asyncio.CancelledError):
                await worker

    async def _work(self) -> None:
        slots = asyncio.Semaphore(CONCURRENT_NOTICES)
        sending: set[asyncio.Task[None]] = set()
        try:
            while True:
                dispatch = await self._queue.get()
                await slots.acquire()
                task = asyncio.create_task(self._deliver(dispatch), name="a notification")
                sending.add(task)
                task.add_done_callback(sending.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            if sending:
                await asyncio.wait(list(sending), timeout=STOP_GRACE_SECONDS)
            for task in list(sending):
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)

    async def _deliver(self, dispatch: _Dispatch) -> None:
        notice = dispatch.notice
        try:
            if not await self._claim(notice):
                log.info("notification of %s was sent before; not again", notice.transition)
                return
            receivers = await self._receivers(dispatch)
            message = compose(notice, public_url=self._public_url)
            results = await asyncio.gather(
                *(self._send(dispatch, receiver, message) for receiver in receivers)
            )
            sent = sum(results)
            # Nobody reached (no receiver at all, or none took it) is a failure.
            outcome: NotificationOutcome = (
                "failed" if not sent else "sent" if sent == len(results) else "partial"
            )
            with suppress(StoreError):
                await self._store.notifications.finish(
                    run_uid=notice.uid,
                    transition=notice.transition,
                    tool_call_id=notice.key[2],
                    outcome=outcome,
                    receivers=sent,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            # A defect must not stop the worker: the other notices still go out.
            log.exception("notification of %s failed inside the operator", notice.transition)

    async def _claim(self, notice: Notice) -> bool:
        uid, transition, tool_call_id = notice.key
        deadline = time.monotonic() + self._retry_seconds
        pause = FIRST_PAUSE_SECONDS
        while True:
            try:
                return await self._store.notifications.claim(
                    run_uid=uid,
                    transition=transition,
                    tool_call_id=tool_call_id,
                    namespace=notice.namespace,
                    name=notice.name,
                )
            except StoreError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("cannot record the notification yet, trying again: %s", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_SECONDS)

    async def _receivers(self, dispatch: _Dispatch) -> list[_Receiver]:
        notice = dispatch.notice
        found: dict[str, _Receiver] = {}
        if wanted_on(self._operator_on, notice.transition):
            for url in self._operator_urls:
                found.setdefault(url, _Receiver(url=url, source="MC_NOTIFY_URLS_FILE"))
        for route in dispatch.routes:
            if not wanted_by(route, notice):
                continue
            account = self._agent_account if route.destructive_holds_only else dispatch.run_account
            user = impersonated_user(namespace=route.namespace, service_account_name=account)
            try:
                text = await self._kubernetes.read_secret_key(
                    route.namespace, route.secret_name, route.secret_key, impersonate=user
                )
            except MissionControlError as exc:
                self._metrics.notification(outcome="failed")
                await self._failed(
                    dispatch,
                    f"notification of {notice.transition} not sent to the receivers of "
                    f"{route.source}: it cannot be read as {user} ({exc}); grant that "
                    "ServiceAccount get on the Secret (see the README, Notifications)",
                )
                continue
            for url in parse_receivers(text):
                found.setdefault(url, _Receiver(url=url, source=route.source))
        return list(found.values())

    async def _send(self, dispatch: _Dispatch, receiver: _Receiver, message: Message) -> bool:
        outgoing = Outgoing(
            title=message.title, body=message.body, kind=message.severity, link=message.link
        )
        started = time.monotonic()
        pause = FIRST_PAUSE_SECONDS
        attempts = 0
        while True:
            attempts += 1
            try:
                await self._sender.send(receiver.url, outgoing)
            except ReceiverRefused as exc:
                waited = time.monotonic() - started
                if waited + pause <= self._retry_seconds:
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, MAX_PAUSE_SECONDS)
                    continue
                error: NotificationError = exc
            except NotificationError as exc:
                error = exc
            else:
                self._metrics.notification(outcome="sent")
                return True
            self._metrics.notification(outcome="failed")
            waited = time.monotonic() - started
            await self._failed(
                dispatch,
                f"notification of {dispatch.notice.transition} to a {error.service} receiver "
                f"({receiver.source}) failed after {attempts} attempt"
                f"{'s' if attempts > 1 else ''} in {waited:.0f}s: {error}",
            )
            return False

    async def _failed(self, dispatch: _Dispatch, message: str) -> None:
        log.warning("%s", message)
        try:
            await self._objects.post_event(
                dispatch.about, reason=FAILED_EVENT, message=message, warning=True
            )
        except MissionControlError as exc:
            log.warning("event %s not posted: %s", FAILED_EVENT, exc)


class RunNotices:
    """Watches one run's status patches and submits each notifiable transition once.

    ``routes`` and ``run_account`` are set when the run is resolved (a run that ends before
    that only reaches the operator-wide receivers).
    """

    def __init__(self, notifier: Notifier, *, about: ObjectRef, task: str) -> None:
        self._notifier = notifier
        self._about = about
        self.task = task
        self.routes: tuple[NotifyRoute, ...] = ()
        self.run_account = ""
        self._seen: set[tuple[str, str, str]] = set()

    def observe(self, patch: Mapping[str, Any]) -> None:
        """Called with every status patch the run wrote; never waits."""
        notice = notice_of(
            patch,
            namespace=self._about.namespace,
            name=self._about.name,
            uid=self._about.uid,
            task=self.task,
        )
        if notice is None or notice.key in self._seen:
            return
        self._seen.add(notice.key)
        if self._notifier.wants(notice, self.routes):
            self._notifier.submit(
                notice, routes=self.routes, run_account=self.run_account, about=self._about
            )
