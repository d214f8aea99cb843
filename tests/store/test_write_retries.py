"""Every write the run loop makes survives a lost acknowledgement: retried, it lands once.

The proxy lets each statement reach PostgreSQL and commit, then drops the connection before the
reply gets back, so the store reports ``JournalUnavailable`` for a write that did happen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from mission_control.store import (
    InvalidTransition,
    JournalUnavailable,
    Store,
    StoreRejected,
    UsageEntry,
)
from tests.store.helpers import create_run
from tests.support.pgproxy import AckDroppingProxy, ack_dropping_proxy

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Through:
    store: Store
    proxy: AckDroppingProxy
    run_uid: str
    url: str


@pytest.fixture
async def through(database_url: str) -> AsyncIterator[Through]:
    async with (
        ack_dropping_proxy(database_url) as proxy,
        Store.open(proxy.url(database_url), max_size=4) as store,
    ):
        run = await create_run(store)
        yield Through(store=store, proxy=proxy, run_uid=run.uid, url=database_url)


async def count(url: str, query: str, *params: Any) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute(query, params)).fetchone()
        assert row is not None
        return int(row[0])


async def lose_the_reply_then_retry(
    t: Through, *, marker: bytes, write: Callable[[], Awaitable[Any]]
) -> tuple[Any, Any]:
    """Write once with the acknowledgement lost, then retry; return (retry's result, a third)."""
    dropped = t.proxy.dropped
    t.proxy.drop_reply_to(marker)
    with pytest.raises(JournalUnavailable):
        await write()
    assert t.proxy.dropped == dropped + 1  # the statement reached the server and committed
    return await write(), await write()


def usage(run_uid: str, *, tokens: int = 10) -> UsageEntry:
    return UsageEntry(
        run_uid=run_uid,
        provider="gemini",
        model="gemini-2.0-flash",
        namespace="ops",
        prompt_tokens=tokens,
        completion_tokens=5,
        cost_usd=Decimal("0.0001"),
    )


async def intent(t: Through, *, arguments: dict[str, Any] | None = None) -> Any:
    return await t.store.tool_calls.record_intent(
        run_uid=t.run_uid,
        tool_call_id="tc-1",
        tool="scale_k8s_deployment",
        risk="SAFE_MUTATE",
        arguments=arguments or {"namespace": "media", "name": "web", "replicas": 2},
        args_digest="sha256:abc",
        decision="Allow",
    )


async def request(t: Through, *, model: str = "gemini-2.0-flash") -> int:
    return await t.store.llm.record_request(
        run_uid=t.run_uid,
        key="step-1",
        step=1,
        provider="gemini",
        model=model,
        messages=[{"role": "user", "content": "why is web down?"}],
        tools=[{"name": "list_k8s_pods"}],
    )


async def test_a_retried_tool_call_intent_is_stored_once(through: Through) -> None:
    t = through

    retried, again = await lose_the_reply_then_retry(
        t, marker=b"tool_call_records", write=lambda: intent(t)
    )

    assert retried == again
    assert (retried.tool_call_id, retried.status) == ("tc-1", "intent")
    assert await count(t.url, "SELECT count(*) FROM tool_call_records") == 1
    with pytest.raises(StoreRejected, match=r"stored: arguments=.*replicas.*2.*given: arguments"):
        await intent(t, arguments={"namespace": "media", "name": "web", "replicas": 0})


async def test_a_retried_tool_call_completion_is_stored_once(through: Through) -> None:
    t = through
    await intent(t)

    def complete(digest: str = "sha256:out") -> Awaitable[Any]:
        return t.store.tool_calls.complete(
            run_uid=t.run_uid, tool_call_id="tc-1", output_digest=digest, duration_ms=12.0
        )

    retried, again = await lose_the_reply_then_retry(
        t, marker=b"UPDATE tool_call_records", write=complete
    )

    assert retried == again
    assert (retried.status, retried.output_digest) == ("completed", "sha256:out")
    with pytest.raises(InvalidTransition, match=r"'sha256:out'.*'sha256:other'"):
        await complete("sha256:other")


async def test_retried_usage_is_counted_once(through: Through) -> None:
    t = through

    retried, again = await lose_the_reply_then_retry(
        t,
        marker=b"token_usage",
        write=lambda: t.store.usage.record(usage(t.run_uid), key="step-1"),
    )

    assert retried == again
    total = await t.store.usage.run_total(t.run_uid)
    assert (total.requests, total.prompt_tokens) == (1, 10)
    with pytest.raises(StoreRejected, match=r"stored: prompt_tokens=10; given: prompt_tokens=11"):
        await t.store.usage.record(usage(t.run_uid, tokens=11), key="step-1")


async def test_a_retried_llm_request_and_response_are_stored_once(through: Through) -> None:
    t = through

    request_id, again = await lose_the_reply_then_retry(
        t, marker=b"llm_requests", write=lambda: request(t)
    )

    def respond(text: str = "the pod is crash-looping") -> Awaitable[int]:
        return t.store.llm.record_response(
            request_id=request_id,
            run_uid=t.run_uid,
            content={"text": text},
            latency_ms=250.0,
            finish_reason="stop",
        )

    response_id, response_again = await lose_the_reply_then_retry(
        t, marker=b"llm_responses", write=respond
    )

    assert (request_id, response_id) == (again, response_again)
    assert await count(t.url, "SELECT count(*) FROM llm_requests") == 1
    assert await count(t.url, "SELECT count(*) FROM llm_responses") == 1
    with pytest.raises(StoreRejected, match=r"stored: model=gemini-2.0-flash; given: model=other"):
        await request(t, model="other")
    with pytest.raises(StoreRejected, match=r"stored: content=.*crash-looping.*given: content="):
        await respond("all fine")


async def test_a_retried_journal_append_is_stored_once(through: Through) -> None:
    t = through

    def append(n: int = 1) -> Awaitable[Any]:
        return t.store.journal.append(
            run_uid=t.run_uid, type="tool.result", payload={"n": n}, event_id="step-1/tc-1"
        )

    retried, again = await lose_the_reply_then_retry(t, marker=b"task_events", write=append)

    assert retried == again
    assert retried.seq == 1
    assert await t.store.journal.last_seq(t.run_uid) == 1
    with pytest.raises(
        StoreRejected,
        match=r"already used by event 1 .*stored: tool.result \{'n': 1\}; "
        r"given: tool.result \{'n': 2\}",
    ):
        await append(2)


async def test_a_retried_keyed_audit_entry_is_chained_once(through: Through) -> None:
    t = through

    def append(action: str = "tool.executed") -> Awaitable[Any]:
        return t.store.audit.append(
            actor="mission-control",
            actor_kind="operator",
            action=action,
            target="taskrun ops/r",
            run_uid=t.run_uid,
            details={"toolCallId": "tc-1"},
            entry_key="tool.outcome:tc-1",
        )

    # The transaction's COMMIT reached the server; its reply did not come back.
    retried, again = await lose_the_reply_then_retry(t, marker=b"COMMIT", write=append)

    assert retried == again
    assert await count(t.url, "SELECT count(*) FROM audit_entries") == 1
    assert (await t.store.audit.verify()).ok
    with pytest.raises(StoreRejected, match=r"already used by entry .*tool.executed.*given: tool"):
        await append("tool.denied")
    # Without a key, each append is an entry of its own (an action that happened twice).
    await t.store.audit.append(
        actor="mission-control", actor_kind="operator", action="a", target="t", run_uid=t.run_uid
    )
    await t.store.audit.append(
        actor="mission-control", actor_kind="operator", action="a", target="t", run_uid=t.run_uid
    )
    assert await count(t.url, "SELECT count(*) FROM audit_entries") == 3
    assert (await t.store.audit.verify()).ok
