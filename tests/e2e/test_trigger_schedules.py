"""TaskTriggers on a schedule, with the operator as a subprocess: the schedules fire every few
seconds (a seconds field in front of the cron) so each policy shows in a few ticks.

Forbid skips while a run is active, Replace cancels it, Allow overlaps; suspend starts
nothing; history limits keep exactly N successful and M failed runs; a bad time zone is
Ready=False; an operator restart across two missed ticks starts one run.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest

from tests.e2e.harness import Scene
from tests.e2e.triggers import (
    counts,
    holding_task,
    outcome,
    quick_task,
    ready,
    runs_of,
    status,
    this_checkout,
    trigger,
)
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    return this_checkout()


EVERY_2S = "*/2 * * * * *"


def test_forbid_skips_ticks_while_a_run_is_active(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    holding_task(scene, scripted_model, "hold")
    scene.apply(trigger("forbid", task_name="hold", schedule={"cron": EVERY_2S},
                        concurrencyPolicy="Forbid"))  # fmt: skip
    wait_until(lambda: counts(scene, "forbid").get("skipped", 0) >= 2, timeout=90,
               what="two ticks skipped")  # fmt: skip

    runs = runs_of(scene, "forbid")
    assert len(runs) == 1
    assert counts(scene, "forbid")["started"] == 1
    assert [entry["name"] for entry in status(scene, "forbid")["active"]] == [
        runs[0]["metadata"]["name"]
    ]


def test_replace_cancels_the_active_run(scene: Scene, scripted_model: ScriptedModelFactory) -> None:
    holding_task(scene, scripted_model, "hold")
    scene.apply(trigger("replace", task_name="hold", schedule={"cron": EVERY_2S},
                        concurrencyPolicy="Replace"))  # fmt: skip
    wait_until(lambda: len(runs_of(scene, "replace")) >= 2, timeout=90, what="a second run")
    scene.apply(trigger("replace", task_name="hold", schedule={"cron": EVERY_2S},
                        concurrencyPolicy="Replace", suspend=True))  # fmt: skip
    first = runs_of(scene, "replace")[0]["metadata"]["name"]
    scene.wait(first, condition="Succeeded=false", timeout=90)

    run = scene.get("taskrun", first)
    assert run["spec"]["status"] == "Cancelled"
    assert "concurrencyPolicy Replace" in run["spec"]["statusMessage"]


def test_allow_lets_runs_overlap(scene: Scene, scripted_model: ScriptedModelFactory) -> None:
    holding_task(scene, scripted_model, "hold")
    scene.apply(trigger("allow", task_name="hold", schedule={"cron": EVERY_2S}))
    wait_until(lambda: len(status(scene, "allow").get("active") or []) >= 2, timeout=90,
               what="two active runs")  # fmt: skip
    scene.apply(trigger("allow", task_name="hold", schedule={"cron": EVERY_2S}, suspend=True))

    assert all(outcome(run) == "Unknown" for run in runs_of(scene, "allow"))
    assert len(runs_of(scene, "allow")) >= 2


def test_a_suspended_trigger_starts_nothing_as_ticks_pass(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    quick_task(scene, scripted_model, "quick")
    scene.apply(trigger("paused", task_name="quick", schedule={"cron": EVERY_2S}, suspend=True))
    seen: set[str] = set()

    def ticks_passed() -> bool:
        next_time = status(scene, "paused").get("nextScheduleTime")
        if next_time:
            seen.add(next_time)
        return len(seen) >= 3

    wait_until(ticks_passed, timeout=90, what="three schedule ticks to pass")

    assert runs_of(scene, "paused") == []
    assert counts(scene, "paused").get("started", 0) == 0
    header, row = scene.kubectl("get", "mctrigger", "paused").splitlines()
    assert header.split() == [
        "NAME",
        "TASK",
        "KIND",
        "WHEN",
        "SUSPEND",
        "READY",
        "LAST",
        "NEXT",
        "AGE",
    ]
    assert row.split()[:12] == [
        "paused",
        "quick",
        "Schedule",
        *EVERY_2S.split(),
        "UTC",
        "true",
        "True",
    ]


def test_history_limits_keep_exactly_n_successful_and_m_failed_runs(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    quick_task(scene, scripted_model, "quick")
    # A param the Task does not declare: each run fails at once (InvalidParams).
    scene.apply(
        trigger("good", task_name="quick", schedule={"cron": EVERY_2S},
                successfulRunsHistoryLimit=2),
        trigger("bad", task_name="quick", schedule={"cron": EVERY_2S}, failedRunsHistoryLimit=1,
                params=[{"name": "undeclared", "value": "x"}]),
    )  # fmt: skip
    wait_until(
        lambda: (
            counts(scene, "good").get("started", 0) >= 4
            and counts(scene, "bad").get("started", 0) >= 3
        ),
        timeout=120,
        what="four good and three bad runs",
    )
    for name in ("good", "bad"):
        scene.apply(trigger(name, task_name="quick", schedule={"cron": EVERY_2S}, suspend=True,
                            successfulRunsHistoryLimit=2, failedRunsHistoryLimit=1))  # fmt: skip

    def settled(name: str, expected: str, kept: int) -> bool:
        runs = runs_of(scene, name)
        return len(runs) == kept and all(outcome(run) == expected for run in runs)

    wait_until(lambda: settled("good", "True", 2), timeout=90, what="2 successful runs kept")
    wait_until(lambda: settled("bad", "False", 1), timeout=90, what="1 failed run kept")
    assert counts(scene, "good")["started"] >= 4


def test_an_unknown_time_zone_is_not_ready_and_says_the_fix(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    quick_task(scene, scripted_model, "quick")
    mars = {"cron": "0 7 * * *", "timeZone": "Mars/Olympus_Mons"}
    scene.apply(trigger("mars", task_name="quick", schedule=mars))
    wait_until(lambda: ready(scene, "mars").get("status") == "False", timeout=60, what="Ready")

    condition = ready(scene, "mars")
    assert condition["reason"] == "InvalidSchedule"
    assert (
        "spec.schedule.timeZone 'Mars/Olympus_Mons' is not a known IANA time zone"
        in (condition["message"])
    )
    assert runs_of(scene, "mars") == []


def test_a_restart_across_two_missed_ticks_starts_one_run(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    quick_task(scene, scripted_model, "quick")
    every_4s = "*/4 * * * * *"
    scene.apply(trigger("nightly", task_name="quick",
                        schedule={"cron": every_4s, "startingDeadlineSeconds": 60}))  # fmt: skip
    wait_until(lambda: counts(scene, "nightly").get("started", 0) >= 1, timeout=90,
               what="a first run")  # fmt: skip
    scene.operator.stop()
    before = datetime.fromisoformat(status(scene, "nightly")["lastScheduleTime"])
    started_before = counts(scene, "nightly")["started"]
    # Two ticks pass while the operator is down (a wait, not an assertion on time).
    while time.time() < before.timestamp() + 9:
        time.sleep(0.5)
    scene.operator.start()

    wait_until(lambda: counts(scene, "nightly")["started"] > started_before, timeout=90,
               what="the run for the missed ticks")  # fmt: skip
    ticks = sorted(
        tick_of(run["metadata"]["name"])
        for run in runs_of(scene, "nightly")
        if tick_of(run["metadata"]["name"]) > before.timestamp()
    )
    # The first run after the restart is for the latest missed tick: the ones before it (at
    # least two, 4 s apart) started nothing.
    assert ticks[0] >= before.timestamp() + 8
    assert all(later - earlier >= 4 for earlier, later in itertools.pairwise(ticks))


def tick_of(run_name: str) -> int:
    """The tick a scheduled run is for, from its name (unix seconds, or minutes on a minute)."""
    suffix = int(run_name.rsplit("-", 1)[1])
    return suffix * 60 if suffix < 1_000_000_000 else suffix
