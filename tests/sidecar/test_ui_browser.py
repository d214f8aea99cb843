"""The web view in headless Chromium over a real sidecar and PostgreSQL, with seeded runs.

Each test also checks what the browser asked for: nothing outside the sidecar, never the token
in a URL. (The same view over a real operator run is in ``tests/e2e/test_web_view.py``.)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Route, expect

from mission_control.store import RunRecord, Store, UsageEntry
from tests.sidecar.harness import TOKEN, Sidecar
from tests.sidecar.seed import add_run, append
from tests.support.browser import Browser, browser

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: Would set window.pwned if it ever ran as HTML.
PAYLOAD = '<script>window.pwned = "script"</script><img src=x onerror="window.pwned = \'img\'">'


@pytest.fixture
async def page(sidecar: Sidecar, tmp_path: Path) -> AsyncIterator[Browser]:
    async with browser(sidecar.url, shots=tmp_path) as session:
        yield session
    assert session.foreign_requests() == []
    # No script error and no CSP refusal ("Refused to ..."); a 401 the page expects is logged
    # by Chromium as a failed load.
    assert [e for e in session.console_errors if "Failed to load resource" not in e] == []
    assert [url for url in session.requests if TOKEN in url] == []
    # Our own requests are all under /ui/ or /api/v1/.
    assert [u for u in session.requests if not re.search(r"/(ui|api/v1)/", u)] == []


async def run_with_tools(store: Store, name: str) -> RunRecord:
    run = await add_run(store, namespace="media", name=name, task="restart", reason="Running")
    await append(store, run, "run.started", identity="system:serviceaccount:media:agent")
    await append(store, run, "llm.request", step=1, provider="ollama", model="qwen")
    await append(
        store,
        run,
        "llm.response",
        step=1,
        finishReason="tool_calls",
        promptTokens=120,
        completionTokens=30,
        costUSD="0.0125",
        messages=[
            {
                "role": "assistant",
                "content": "The pod **web-0** is in `CrashLoopBackOff`; get_pod_logs next.",
                "tool_calls": [
                    {"id": "c1", "name": "get_pod_logs", "arguments": {"name": "web-0"}}
                ],
            }
        ],
    )
    await append(
        store,
        run,
        "tool.decision",
        toolCallId="c1",
        tool="get_pod_logs",
        risk="READ_ONLY",
        arguments={"name": "web-0"},
        verdict="Allow",
        reason="read-only tools are allowed",
    )
    await append(store, run, "tool.started", toolCallId="c1", tool="get_pod_logs", identity="")
    lines = "\n".join(f"log line {n}" for n in range(1, 41))
    await append(
        store, run, "tool.result", toolCallId="c1", tool="get_pod_logs", status="completed",
        output=lines,
    )  # fmt: skip
    return run


async def test_the_runs_list_shows_runs_filters_them_and_updates_live(
    store: Store, page: Browser
) -> None:
    await add_run(store, namespace="ops", name="nightly-1", reason="Succeeded")
    await add_run(store, namespace="media", name="restart-web", reason="AwaitingApproval")

    await page.sign_in(TOKEN)
    rows = page.page.locator("table.runs tbody tr")
    await expect(rows).to_have_count(2)
    held = page.page.locator('tr[data-run="media/restart-web"]')
    await expect(held.locator(".badge")).to_have_text("AwaitingApproval")
    await expect(held.locator(".badge")).to_have_class(re.compile(r"\bwarn\b"))
    await expect(held).to_contain_text("diagnose")  # the task
    await expect(held).to_contain_text("$0.0125")
    await page.screenshot("runs-list")

    await expect(page.page.locator('tr[data-run="ops/nightly-1"] .badge')).to_have_class(
        re.compile(r"\bok\b")
    )
    await page.page.get_by_label("Reason").select_option("Succeeded")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("nightly-1")
    await page.page.get_by_label("Reason").select_option("")

    marker = await page.page.evaluate("() => (window.sameDocument = 1)")
    await add_run(store, namespace="ops", name="arrived-later", reason="Started")
    await expect(page.page.locator('tr[data-run="ops/arrived-later"]')).to_be_visible()
    assert await page.page.evaluate("() => window.sameDocument") == marker  # no reload


async def test_a_run_shows_its_timeline_live_and_a_held_call_shows_the_exact_commands(
    store: Store, page: Browser
) -> None:
    run = await run_with_tools(store, "restart-web")

    await page.sign_in(TOKEN, path="/ui/#/runs/media/restart-web")
    timeline = page.page.locator("ol.timeline > li")
    await expect(timeline).to_have_count(6)
    turn = page.page.locator('li[data-type="llm.response"]')
    await expect(turn.locator("strong")).to_have_text("web-0")
    await expect(turn.locator("code")).to_have_text("CrashLoopBackOff")
    await expect(turn.locator("p")).to_have_text(
        "The pod web-0 is in CrashLoopBackOff; get_pod_logs next."
    )
    await expect(turn.locator("em")).to_have_count(0)
    decision = page.page.locator('li[data-type="tool.decision"]')
    await expect(decision).to_contain_text("risk READ_ONLY")
    await expect(decision).to_contain_text("Allow")
    result = page.page.locator('li[data-type="tool.result"]')
    await expect(result.locator("pre")).not_to_contain_text("log line 40")
    await result.get_by_role("button", name="Show all 40 lines").click()
    await expect(result.locator("pre")).to_contain_text("log line 40")
    await result.get_by_role("button", name="Show less").click()
    await expect(result.locator("pre")).not_to_contain_text("log line 40")
    await expect(page.page.locator("#live-state")).to_have_text("● live")

    marker = await page.page.evaluate("() => (window.sameDocument = 2)")
    arguments = {"namespace": "media", "name": "web-0", "gracePeriodSeconds": 0}
    await append(
        store, run, "approval.requested", toolCallId="c2", tool="delete_k8s_pod",
        risk="DESTRUCTIVE", argsDigest="sha256:abc", arguments=arguments,
        reason="destructive tools need a person",
    )  # fmt: skip
    await store.runs.set_reason(
        run.uid, reason="AwaitingApproval", message="delete_k8s_pod is held for approval"
    )
    await expect(page.page.locator(".run-head .badge")).to_have_text("AwaitingApproval")
    pending = page.page.locator("section.pending")
    await expect(pending).to_be_visible()
    await expect(pending.locator("pre.arguments")).to_contain_text('"gracePeriodSeconds": 0')
    commands = pending.locator(".command code")
    await expect(commands.nth(0)).to_have_text(
        "kubectl mc approve restart-web -n media --tool-call c2"
    )
    await expect(commands.nth(1)).to_contain_text(
        "kubectl mc reject restart-web -n media --tool-call c2"
    )
    await pending.get_by_role("button", name=re.compile("Copy: kubectl mc approve")).click()
    copied = await page.page.evaluate("() => navigator.clipboard.readText()")
    assert copied == "kubectl mc approve restart-web -n media --tool-call c2"
    await page.screenshot("run-held")

    await append(
        store, run, "approval.decided", toolCallId="c2", tool="delete_k8s_pod",
        state="Approved", approvedBy=["alice@example.com"], rejectedBy=None, message=None,
    )  # fmt: skip
    await append(
        store, run, "run.finished", reason="Succeeded", message="done",
        summary="Restarted **web-0**:\n\n- deleted the pod\n- it came back `Running`",
    )  # fmt: skip
    await expect(page.page.locator('li[data-type="approval.decided"]')).to_contain_text(
        "Approved by alice@example.com"
    )
    answer = page.page.locator("section.answer")
    await expect(answer.locator("li")).to_have_count(2)
    await expect(answer.locator("strong")).to_have_text("web-0")
    await expect(pending).to_have_count(0)
    await expect(page.page.locator("#live-state")).to_have_text("run ended")
    assert await page.page.evaluate("() => window.sameDocument") == marker  # no reload
    # The stream was read with fetch and the header, never with the token in its URL.
    assert any(url.endswith("/events/stream") for url in page.requests)


async def test_a_dropped_stream_resumes_with_last_event_id_without_gaps_or_repeats(
    store: Store, sidecar: Sidecar, page: Browser
) -> None:
    run = await add_run(store, namespace="ops", name="flaky", reason="Running")
    for step in range(1, 6):
        await append(store, run, "llm.request", step=step, provider="ollama", model="qwen")
    journal = await sidecar.client.get("/api/v1/task-runs/ops/flaky/events")
    events = journal.json()["items"]
    streams: list[dict[str, str]] = []

    async def first_connection_drops(route: Route) -> None:
        streams.append(route.request.headers)
        if len(streams) > 1:
            await route.continue_()
            return
        # The first connection delivers three events and ends, as a dropped connection does.
        body = "retry: 100\n\n" + "".join(
            f"id: {e['seq']}\nevent: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events[:3]
        )
        await route.fulfill(status=200, content_type="text/event-stream", body=body)

    await page.page.route("**/events/stream", first_connection_drops)
    await page.sign_in(TOKEN, path="/ui/#/runs/ops/flaky")
    timeline = page.page.locator("ol.timeline > li")
    await expect(timeline).to_have_count(5)
    await append(store, run, "run.finished", reason="Succeeded")
    await expect(timeline).to_have_count(6)
    await expect(page.page.locator("#live-state")).to_have_text("run ended")

    shown = await timeline.evaluate_all("items => items.map(item => Number(item.dataset.seq))")
    assert shown == [1, 2, 3, 4, 5, 6]
    assert "last-event-id" not in streams[0]
    assert streams[1]["last-event-id"] == "3"
    assert all(headers["authorization"] == f"Bearer {TOKEN}" for headers in streams)


async def test_html_from_a_tool_or_the_model_is_shown_as_text_and_never_runs(
    store: Store, page: Browser
) -> None:
    run = await add_run(store, namespace="ops", name="hostile", reason="Running")
    await append(
        store, run, "llm.response", step=1, messages=[{"role": "assistant", "content": PAYLOAD}]
    )
    await append(store, run, "tool.result", tool="read_file", status="completed", output=PAYLOAD)
    await append(store, run, "run.finished", reason="Succeeded", summary=f"**Done** {PAYLOAD}")

    await page.sign_in(TOKEN, path="/ui/#/runs/ops/hostile")
    result = page.page.locator('li[data-type="tool.result"] pre')
    await expect(result).to_have_text(PAYLOAD)
    await expect(page.page.locator("section.answer")).to_contain_text("<img src=x onerror=")
    await expect(page.page.locator("#live-state")).to_have_text("run ended")

    assert await page.page.evaluate("() => typeof window.pwned") == "undefined"
    assert await page.page.locator("#view img, #view script").count() == 0
    # <img src=x> would have been fetched as /ui/x had it become an element.
    assert [url for url in page.requests if url.endswith("/ui/x")] == []


async def test_the_usage_page_draws_cost_per_day_model_and_namespace_with_the_numbers(
    store: Store, page: Browser
) -> None:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    rows = [
        ("ops", "gemini", "gemini-2.5-flash", "0.0420", today - dt.timedelta(days=2)),
        ("ops", "anthropic", "claude-sonnet", "0.1500", today - dt.timedelta(days=1)),
        ("media", "gemini", "gemini-2.5-flash", "0.0080", today),
        ("media", "ollama", "qwen3", "0", today),
    ]
    for n, (namespace, provider, model, cost, at) in enumerate(rows):
        run = await add_run(store, namespace=namespace)
        entry = UsageEntry(
            run_uid=run.uid, namespace=namespace, task=run.task_name, provider=provider,
            model=model, prompt_tokens=1000, completion_tokens=100, cost_usd=Decimal(cost),
        )  # fmt: skip
        await store.usage.record(entry, key=f"ui-{n}", at=at)

    await page.sign_in(TOKEN, path="/ui/#/usage")
    panels = page.page.locator("section.usage-panel")
    await expect(panels).to_have_count(3)
    await expect(page.page.locator("p.total")).to_have_text("$0.20 · 4,400 tokens")
    per_day, per_model, per_namespace = (panels.nth(n) for n in range(3))
    await expect(per_day.locator("svg rect.bar")).to_have_count(30)
    await expect(per_day.locator("table tbody tr")).to_have_count(3)
    await expect(per_model.locator("svg rect.bar")).to_have_count(3)
    await expect(per_model.locator("tbody tr").first).to_contain_text("anthropic/claude-sonnet")
    await expect(per_model.locator("tbody tr").first).to_contain_text("$0.15")
    await expect(per_namespace.locator("tbody tr")).to_have_text(
        [re.compile(r"ops\s*2\s*2,200\s*\$0\.192"), re.compile(r"media\s*2\s*2,200\s*\$0\.008$")]
    )
    await page.screenshot("usage")


async def test_a_refused_token_asks_again_and_is_not_kept(sidecar: Sidecar, page: Browser) -> None:
    await page.page.goto(sidecar.url + "/ui/")
    await page.page.get_by_role("textbox", name="API token").fill("not-the-token")
    await page.page.get_by_role("button", name="Use token").click()
    await expect(page.page.locator("#token-error")).to_contain_text("refused")
    kept = await page.page.evaluate("() => Object.keys(sessionStorage).length")
    assert kept == 0
