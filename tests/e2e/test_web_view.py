"""The web view over a real operator run: Chromium watches a run get held, shows the exact
command, and follows the approval made with that very command to the run's answer, live.

The operator runs as a process against the local control plane with the scripted Ollama
model; the sidecar reads the module's database; the browser talks only to the sidecar.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import expect

from mission_control.store import Store
from tests.e2e.harness import AGENT_SERVICE_ACCOUNT, Scene, mission_control, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.sidecar.harness import TOKEN, running_sidecar
from tests.support.browser import browser
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import pod

pytestmark = [
    pytest.mark.controlplane,
    pytest.mark.postgres,
    pytest.mark.ollama,
    pytest.mark.slow,
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    # This checkout's operator, whichever checkout the console script was installed from.
    return {"PYTHONPATH": str(ROOT / "operator")}


#: The model's final answer, with HTML that must stay text.
ANSWER = (
    'Deleted **web-0**. <img src=x onerror="window.pwned = 1"><script>window.pwned = 2</script>'
)


def hold(scene: Scene, scripted_model: ScriptedModelFactory) -> dict[str, str]:
    """A run holding ``delete_k8s_pod`` of pod ``web-0`` for approval; its pending call."""
    ns = scene.namespace
    scene.kubectl(
        "create", "rolebinding", "webview-edit", "--clusterrole=edit",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip
    scene.apply(pod("web-0"))
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say(ANSWER)])
    scene.apply(
        task("webview", model=model, prompt="Delete web-0.", tools=["delete_k8s_pod"]),
        taskrun("webview-1", task_name="webview"),
    )
    scene.wait_for("webview-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")
    pending: dict[str, str] = scene.get("taskrun", "webview-1")["status"]["pendingApproval"]
    return pending


def run_shown_command(scene: Scene, command: str) -> subprocess.CompletedProcess[str]:
    """The command the page shows, run as `mission-control` (what `kubectl mc` runs)."""
    words = shlex.split(command)
    assert words[:2] == ["kubectl", "mc"], command
    return subprocess.run(
        [mission_control(), *words[2:]],
        env={**os.environ, "KUBECONFIG": str(scene.cluster.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_web_view_follows_a_real_run_through_its_approval(
    scene: Scene, scripted_model: ScriptedModelFactory, tmp_path: Path
) -> None:
    pending = await asyncio.to_thread(hold, scene, scripted_model)
    ns = scene.namespace

    async with (
        Store.open(scene.database_url, max_size=4) as store,
        running_sidecar(store) as sidecar,
        browser(sidecar.url, shots=tmp_path) as page,
    ):
        await page.sign_in(TOKEN)
        row = page.page.locator(f'tr[data-run="{ns}/webview-1"]')
        await expect(row.locator(".badge")).to_have_text("AwaitingApproval")
        await row.get_by_role("link", name="webview-1").click()

        held = page.page.locator("section.pending")
        await expect(held.locator("pre.arguments")).to_contain_text('"name": "web-0"')
        approve = held.locator(".command code").first
        shown = f"kubectl mc approve webview-1 -n {ns} --tool-call {pending['toolCallId']}"
        await expect(approve).to_have_text(shown)
        timeline = page.page.locator("ol.timeline > li")
        await expect(page.page.locator('li[data-type="approval.requested"]')).to_have_count(1)
        # The stored row has no counters until the run ends; the journal read so far has.
        steps = page.page.locator('.totals div:has(dt:text-is("Steps")) dd')
        await expect(steps).to_have_text("1")
        before = await timeline.count()
        await page.screenshot("run-real-held")

        marker = await page.page.evaluate("() => (window.sameDocument = 3)")
        approved = await asyncio.to_thread(run_shown_command, scene, await approve.inner_text())
        assert approved.returncode == 0, approved.stderr

        decided = page.page.locator('li[data-type="approval.decided"]')
        await expect(decided).to_contain_text(re.compile(r"Approved by \S+"))
        finished = page.page.locator('li[data-type="run.finished"]')
        await expect(finished).to_contain_text("Finished: Succeeded", timeout=60_000)
        await expect(finished.locator("section.answer strong")).to_have_text("web-0")
        await expect(finished.locator("section.answer")).to_contain_text('<img src=x onerror="')
        await expect(held).to_have_count(0)
        await expect(page.page.locator(".run-head .badge")).to_have_text("Succeeded")
        assert await timeline.count() > before
        assert await page.page.evaluate("() => window.sameDocument") == marker  # no reload
        assert await page.page.evaluate("() => typeof window.pwned") == "undefined"
        await page.screenshot("run-real-finished")

    assert page.foreign_requests() == []
    assert [url for url in page.requests if TOKEN in url] == []
