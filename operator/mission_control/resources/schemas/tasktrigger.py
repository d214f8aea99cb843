"""The schema of a TaskTrigger: a schedule or an alert source, the runs it keeps, its status."""

from __future__ import annotations

from mission_control.resources.schemas.parts import (
    array_schema,
    cel_rule,
    conditions_schema,
    int_schema,
    object_schema,
    service_account_schema,
    string_schema,
)
from mission_control.resources.schemas.patterns import (
    CONCURRENCY_POLICIES,
    CRON,
    DNS_SUBDOMAIN,
    MATCHER_OPERATORS,
    PARAM_NAME,
    TIME_ZONE,
    Schema,
)

__all__ = ["tasktrigger_properties"]

HISTORY_MAX = 100
WEEK_SECONDS = 86400 * 7


def _schedule() -> Schema:
    return object_schema(
        "Start a run on a cron schedule.",
        {
            "cron": string_schema(
                "Five fields: minute hour day-of-month month day-of-week (e.g. '0 7 * * *', "
                "'*/15 * * * MON-FRI'); a sixth field in front is seconds; or @hourly, "
                "@daily, @weekly, @monthly, @yearly.",
                minLength=1,
                maxLength=200,
                **{
                    "x-kubernetes-validations": [
                        cel_rule(
                            f"self.matches(r'{CRON}')",
                            "must be a cron schedule: five fields, minute (0-59) hour (0-23) "
                            "day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or "
                            "SUN-SAT), each *, a number, a range a-b, a list a,b or a step */n, "
                            "e.g. '0 7 * * *'; an optional seconds field first; or @daily",
                        )
                    ]
                },
            ),
            "timeZone": string_schema(
                "IANA time zone the cron is read in, e.g. Europe/Berlin. Default UTC. An "
                "unknown zone makes the trigger Ready=False (reason InvalidSchedule).",
                maxLength=64,
                **{
                    "x-kubernetes-validations": [
                        cel_rule(
                            f"self.matches(r'{TIME_ZONE}')",
                            "must be an IANA time zone name such as Europe/Berlin or UTC",
                        )
                    ]
                },
            ),
            "startingDeadlineSeconds": int_schema(
                "A tick missed (operator down) by more than this many seconds is skipped; "
                "missed ticks within it start one run, not one per tick. Default: no deadline.",
                minimum=1,
                maximum=WEEK_SECONDS,
            ),
        },
        required=["cron"],
    )


def _alert() -> Schema:
    matcher = object_schema(
        "A condition on one alert label.",
        {
            "label": string_schema(
                "Alert label name, e.g. alertname.",
                minLength=1,
                maxLength=128,
                pattern="^[A-Za-z_][A-Za-z0-9_]*$",
            ),
            "op": string_schema(
                "= equal, != not equal, =~ matches the regular expression (whole value), "
                "!~ does not match. Default =.",
                enum=MATCHER_OPERATORS,
            ),
            "value": string_schema("Value or regular expression.", maxLength=1024),
        },
        required=["label", "value"],
    )
    return object_schema(
        "Start a run for each firing alert Alertmanager posts to "
        "/alertmanager/v4/NAMESPACE/NAME on the operator's webhook port.",
        {
            "matchers": array_schema(
                "All must hold for an alert to start a run; none: every alert.",
                matcher,
                maxItems=20,
            ),
            "tokenSecretRef": object_schema(
                "The Secret (same namespace) and key holding the bearer token Alertmanager "
                "sends (http_config.authorization.credentials).",
                {
                    "name": string_schema("Secret name.", maxLength=253, pattern=DNS_SUBDOMAIN),
                    "key": string_schema(
                        "Key in the Secret's data.",
                        minLength=1,
                        maxLength=253,
                        pattern="^[-._a-zA-Z0-9]+$",
                    ),
                },
                required=["name", "key"],
            ),
            "cooldownSeconds": int_schema(
                "An alert (same fingerprint) that started a run less than this long ago is "
                "de-duplicated instead. Default 3600.",
                minimum=0,
                maximum=WEEK_SECONDS,
            ),
            "onResolved": string_schema(
                "Ignore (default) resolved alerts, or Start a run for them too.",
                enum=["Ignore", "Start"],
            ),
        },
        required=["tokenSecretRef"],
    )


def _run() -> Schema:
    return object_schema(
        "A TaskRun the trigger started.",
        {
            "name": string_schema("TaskRun name.", maxLength=253),
            "uid": string_schema("TaskRun uid.", maxLength=64),
            "succeeded": string_schema(
                "Its Succeeded condition.", enum=["True", "False", "Unknown"]
            ),
        },
        required=["name"],
    )


def tasktrigger_properties() -> Schema:
    history = (
        "Finished {what} runs kept (0-100; default {default}); older ones are deleted "
        "(the journal stays)."
    )
    spec = object_schema(
        "When runs of a Task start by themselves: exactly one of schedule or alert.",
        {
            "taskRef": object_schema(
                "The Task (same namespace) each run executes.",
                {"name": string_schema("Task name.", maxLength=253, pattern=DNS_SUBDOMAIN)},
                required=["name"],
            ),
            "params": array_schema(
                "Values for the Task's params: literal text, or for alerts $(alert.labels.NAME) "
                "(a value that is not a valid Kubernetes label value refuses the alert).",
                object_schema(
                    "A value for one of the Task's params.",
                    {
                        "name": string_schema(
                            "Param name.", minLength=1, maxLength=63, pattern=PARAM_NAME
                        ),
                        "value": string_schema("Param value.", maxLength=4096),
                    },
                    required=["name", "value"],
                ),
                maxItems=50,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "schedule": _schedule(),
            "alert": _alert(),
            "concurrencyPolicy": string_schema(
                "While a run of this trigger is active: Allow another (default), Forbid "
                "(skip the new one) or Replace (cancel the active one), as a CronJob.",
                enum=CONCURRENCY_POLICIES,
            ),
            "suspend": {
                "type": "boolean",
                "description": "Start no runs while true (ticks and alerts are skipped).",
            },
            "successfulRunsHistoryLimit": int_schema(
                history.format(what="successful", default=3), minimum=0, maximum=HISTORY_MAX
            ),
            "failedRunsHistoryLimit": int_schema(
                history.format(what="failed", default=1), minimum=0, maximum=HISTORY_MAX
            ),
            "runTemplate": object_schema(
                "Fields copied into each TaskRun.",
                {
                    "dryRun": {
                        "type": "boolean",
                        "description": "Preview mutating tool calls instead of executing them.",
                    },
                    "serviceAccountName": service_account_schema(
                        "Overrides the Task's service account for Kubernetes tools."
                    ),
                    "ttlSecondsAfterFinished": int_schema(
                        "Delete each run this long after it finishes (the journal stays).",
                        minimum=0,
                        maximum=31536000,
                    ),
                },
            ),
        },
        required=["taskRef"],
    )
    spec["x-kubernetes-validations"] = [
        cel_rule(
            "has(self.schedule) != has(self.alert)",
            "exactly one of spec.schedule (cron) or spec.alert (Alertmanager) must be set",
        )
    ]
    status = object_schema(
        "Observed state, written by the operator.",
        {
            "observedGeneration": int_schema("The .metadata.generation last judged.", minimum=0),
            "conditions": conditions_schema(
                "Ready: whether the trigger can start runs (schedule, time zone, token, Task)."
            ),
            "kind": string_schema(
                "Schedule or Alert (for kubectl get).", enum=["Schedule", "Alert"]
            ),
            "summary": string_schema(
                "The cron and its time zone, or the alert matchers (for kubectl get).",
                maxLength=100,
            ),
            "lastTriggerTime": string_schema("When a run was last started.", format="date-time"),
            "lastScheduleTime": string_schema(
                "The last schedule tick handled (started, skipped or missed).", format="date-time"
            ),
            "nextScheduleTime": string_schema("The next schedule tick.", format="date-time"),
            "active": array_schema("Runs of this trigger not finished yet.", _run(), maxItems=100),
            "lastRun": _run(),
            "counts": object_schema(
                "What the trigger did since it was created.",
                {
                    "started": int_schema("Runs started.", minimum=0),
                    "deduplicated": int_schema(
                        "Firing alerts not started again within the cooldown.", minimum=0
                    ),
                    "skipped": int_schema(
                        "Ticks or alerts not started: suspended, Forbid while active, or "
                        "past the starting deadline.",
                        minimum=0,
                    ),
                    "refused": int_schema(
                        "Alerts refused: a label value not safe to put in a param.", minimum=0
                    ),
                },
            ),
            "recentAlerts": array_schema(
                "Alert fingerprints that started a run within the cooldown.",
                object_schema(
                    "An alert that started a run.",
                    {
                        "fingerprint": string_schema("Alertmanager's fingerprint.", maxLength=64),
                        "startedAt": string_schema("When its run started.", format="date-time"),
                    },
                    required=["fingerprint", "startedAt"],
                ),
                maxItems=100,
            ),
        },
    )
    return {"spec": spec, "status": status}
