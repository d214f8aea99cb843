"""The labels of the TaskRuns a trigger creates: the trigger's own labels (so a run lands in
its trigger's shard), under the project's labels, which the trigger cannot set."""

from __future__ import annotations

from mission_control.resources.tasktrigger import TaskTriggerSpec
from mission_control.runs.triggers import TriggerRef, run_manifest

SPEC = TaskTriggerSpec.model_validate(
    {"taskRef": {"name": "diagnose"}, "schedule": {"cron": "0 3 * * *"}}
)


def labels_of(trigger: TriggerRef, *, fingerprint: str | None = None) -> dict[str, str]:
    manifest = run_manifest(
        trigger=trigger, spec=SPEC, name="nightly-1", params={}, fingerprint=fingerprint
    )
    return dict(manifest["metadata"]["labels"])


def test_a_run_carries_its_triggers_labels() -> None:
    trigger = TriggerRef(
        namespace="media",
        name="nightly",
        uid="uid-1",
        labels={"shard": "a", "app.kubernetes.io/part-of": "media"},
    )
    assert labels_of(trigger) == {
        "shard": "a",
        "app.kubernetes.io/part-of": "media",
        "missioncontrol.dev/trigger": "nightly",
    }


def test_the_projects_labels_are_not_taken_from_the_trigger() -> None:
    trigger = TriggerRef(
        namespace="media",
        name="nightly",
        uid="uid-1",
        labels={
            "missioncontrol.dev/trigger": "someone-else",
            "missioncontrol.dev/alert-fingerprint": "forged",
            "runs.missioncontrol.dev/anything": "x",
            "missioncontrol.dev.example.com/kept": "yes",
            "shard": "b",
        },
    )
    assert labels_of(trigger) == {
        "missioncontrol.dev.example.com/kept": "yes",
        "shard": "b",
        "missioncontrol.dev/trigger": "nightly",
    }
    assert labels_of(trigger, fingerprint="a1b2")["missioncontrol.dev/alert-fingerprint"] == "a1b2"


def test_argo_cds_tracking_label_is_not_passed_on() -> None:
    # Argo CD would prune a run carrying it, as a resource of the application not in Git.
    trigger = TriggerRef(
        namespace="media",
        name="nightly",
        uid="uid-1",
        labels={"app.kubernetes.io/instance": "homelab", "shard": "a"},
    )
    assert labels_of(trigger) == {"shard": "a", "missioncontrol.dev/trigger": "nightly"}


def test_a_trigger_without_labels_gives_only_ours() -> None:
    trigger = TriggerRef(namespace="media", name="nightly", uid="uid-1")
    assert labels_of(trigger) == {"missioncontrol.dev/trigger": "nightly"}
