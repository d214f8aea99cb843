"""Alertmanager's webhook payload (version 4) and what a TaskTrigger does with each alert.

Pure: the receiver parses the body with :func:`parse_payload`, then :func:`judge_alert` says,
per alert, whether it starts a run (with which param values), is de-duplicated (its fingerprint
started a run within the cooldown), refused (a label value that is not safe to put in a param)
or ignored (resolved, or not matching). Values taken from alert labels must be valid Kubernetes
label values (letters, digits, ``-``, ``_``, ``.``, at most 63 characters): no spaces, quotes,
shell or prompt text can reach a run's prompt through an alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission_control.errors import PermanentError
from mission_control.resources.schemas.patterns import LABEL_VALUE
from mission_control.resources.tasktrigger import AlertMatcher, AlertSource, TriggerParam

__all__ = [
    "ALERT_PLACEHOLDER",
    "Alert",
    "AlertVerdict",
    "InvalidPayload",
    "WebhookPayload",
    "judge_alert",
    "matches",
    "parse_payload",
    "substitute_alert",
]

#: ``$(alert.labels.NAME)`` in a trigger's param value.
ALERT_PLACEHOLDER = re.compile(r"\$\(alert\.labels\.([A-Za-z_][A-Za-z0-9_]*)\)")
_LABEL_VALUE = re.compile(LABEL_VALUE)
LABEL_VALUE_MAX = 63


class InvalidPayload(PermanentError):
    """The body is not an Alertmanager webhook payload; the message says what is wrong."""


class Alert(BaseModel):
    """One alert of a notification."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(max_length=200)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")


class WebhookPayload(BaseModel):
    """A notification as Alertmanager posts it (``version`` 4)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[Alert] = Field(max_length=1000)


def parse_payload(body: bytes) -> WebhookPayload:
    """The payload, or :class:`InvalidPayload` with the first problem found."""
    try:
        return WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise InvalidPayload(
            f"not an Alertmanager webhook payload (version 4): {where}: {error['msg']}"
        ) from None


def _holds(matcher: AlertMatcher, labels: Mapping[str, str]) -> bool:
    value = labels.get(matcher.label, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    try:
        found = re.fullmatch(matcher.value, value) is not None
    except re.error:
        return False  # the Ready condition reports the bad expression
    return found if matcher.op == "=~" else not found


def matches(matchers: Sequence[AlertMatcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher holds for the alert's labels (absent labels are empty)."""
    return all(_holds(matcher, labels) for matcher in matchers)


def substitute_alert(
    params: Sequence[TriggerParam], labels: Mapping[str, str]
) -> dict[str, str] | str:
    """The params with ``$(alert.labels.NAME)`` replaced; or why the alert is refused."""
    values: dict[str, str] = {}
    for param in params:
        problems: list[str] = []

        def label(match: re.Match[str], problems: list[str] = problems) -> str:
            name = match.group(1)
            if name not in labels:
                problems.append(f"label {name} is missing")
                return ""
            value = labels[name]
            if len(value) > LABEL_VALUE_MAX or not _LABEL_VALUE.fullmatch(value):
                problems.append(
                    f"label {name} is not a valid Kubernetes label value (letters, digits, "
                    f"'-', '_', '.', at most {LABEL_VALUE_MAX} characters)"
                )
                return ""
            return value

        values[param.name] = ALERT_PLACEHOLDER.sub(label, param.value)
        if problems:
            return f"param {param.name}: {'; '.join(problems)}"
    return values


@dataclass(frozen=True, kw_only=True)
class AlertVerdict:
    """What one alert does: ``start`` (with ``params``), ``deduplicated``, ``refused``
    (``reason`` says why) or ``ignored``."""

    outcome: Literal["start", "deduplicated", "refused", "ignored"]
    params: Mapping[str, str] | None = None
    reason: str = ""


def judge_alert(
    alert: Alert,
    *,
    source: AlertSource,
    params: Sequence[TriggerParam],
    recent: Mapping[str, datetime],
    now: datetime,
) -> AlertVerdict:
    """The verdict on ``alert``; ``recent`` maps fingerprints to when their last run started."""
    if alert.status == "resolved" and source.on_resolved == "Ignore":
        return AlertVerdict(outcome="ignored", reason="resolved")
    if not matches(source.matchers, alert.labels):
        return AlertVerdict(outcome="ignored", reason="does not match")
    started = recent.get(alert.fingerprint)
    if started is not None and now - started < timedelta(seconds=source.cooldown_seconds):
        return AlertVerdict(outcome="deduplicated", reason="within the cooldown")
    values = substitute_alert(params, alert.labels)
    if isinstance(values, str):
        return AlertVerdict(outcome="refused", reason=values)
    return AlertVerdict(outcome="start", params=values)
