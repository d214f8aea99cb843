"""What a notification of a run's transition says, and to whom it goes; no I/O.

A run sends at most one message per transition (never per step): :func:`notice_of` reads the
transition from the status patch the run just wrote, :func:`wanted_by` says whether a route
asks for it, and :func:`compose` writes a title and a body short enough for a phone. A held
call's message carries the tool, its risk, its arguments (shortened, secret-looking values
replaced by ``***``) and the exact ``kubectl mc approve`` and ``reject`` commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mission_control.resources.clustertoolpolicy import ClusterToolPolicy
from mission_control.resources.notify import NOTIFY_TRANSITIONS, NotifyTransition
from mission_control.resources.toolpolicy import ToolPolicySpec
from mission_control.runs.status import transition_event

__all__ = [
    "ARGUMENTS_MAX_CHARS",
    "DEFAULT_ON",
    "MESSAGE_MAX_CHARS",
    "HeldCall",
    "Message",
    "Notice",
    "NotifyRoute",
    "Severity",
    "compose",
    "notice_of",
    "notify_routes",
    "redact_arguments",
    "run_link",
    "wanted_by",
    "wanted_on",
]

#: Characters of a held call's arguments a message shows.
ARGUMENTS_MAX_CHARS = 200
#: Characters of the run's own message a notification shows.
MESSAGE_MAX_CHARS = 300
_ELLIPSIS = "…"

#: A route's ``on`` when it says none: everything but ``Succeeded``.
DEFAULT_ON: frozenset[NotifyTransition] = frozenset(NOTIFY_TRANSITIONS) - {"Succeeded"}

#: How a receiver may show the message (ntfy priority and tags, Apprise's notify type).
Severity = Literal["approval", "success", "failure"]

# Argument names whose values are never shown: the model may pass credentials to a tool.
_SECRET_NAME = re.compile(r"pass|secret|token|key|credential|auth|cookie|session", re.I)
_MASK = "***"


@dataclass(frozen=True, kw_only=True)
class NotifyRoute:
    """Receivers named by a policy: the Secret key with their URLs, and the transitions wanted.

    ``namespace`` is the Secret's; ``destructive_holds_only`` marks a ClusterToolPolicy's
    route, which hears only of held DESTRUCTIVE calls.
    """

    namespace: str
    secret_name: str
    secret_key: str
    on: frozenset[NotifyTransition] = DEFAULT_ON
    destructive_holds_only: bool = False

    @property
    def source(self) -> str:
        """How messages name the route (never its URLs)."""
        return f"Secret {self.namespace}/{self.secret_name} key {self.secret_key}"


@dataclass(frozen=True, kw_only=True)
class HeldCall:
    """The call a run holds for approval, as status shows it."""

    tool_call_id: str
    tool: str
    risk: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One transition of one run, worth telling someone."""

    namespace: str
    name: str
    uid: str
    task: str
    transition: NotifyTransition
    message: str
    held: HeldCall | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes the notice unique: (run uid, transition, tool call id or "")."""
        return (self.uid, self.transition, "" if self.held is None else self.held.tool_call_id)


@dataclass(frozen=True, kw_only=True)
class Message:
    """A notification as every receiver gets it: plain text."""

    title: str
    body: str
    severity: Severity
    link: str | None = None


def notify_routes(
    *, policy: ToolPolicySpec | None, namespace: str, cluster: Sequence[ClusterToolPolicy]
) -> tuple[NotifyRoute, ...]:
    """The routes of a run: its ToolPolicy's ``notify``, and every ClusterToolPolicy's."""
    routes = []
    if policy is not None and policy.notify is not None:
        ref = policy.notify.secret_ref
        routes.append(
            NotifyRoute(
                namespace=namespace,
                secret_name=ref.name,
                secret_key=ref.key,
                on=DEFAULT_ON if policy.notify.on is None else frozenset(policy.notify.on),
            )
        )
    for item in cluster:
        if item.spec.notify is not None:
            cref = item.spec.notify.secret_ref
            routes.append(
                NotifyRoute(
                    namespace=cref.namespace,
                    secret_name=cref.name,
                    secret_key=cref.key,
                    on=frozenset({"AwaitingApproval"}),
                    destructive_holds_only=True,
                )
            )
    return tuple(dict.fromkeys(routes))


def notice_of(
    patch: Mapping[str, Any], *, namespace: str, name: str, uid: str, task: str
) -> Notice | None:
    """The notice a status patch makes, if its ``Succeeded`` reason is a notifiable one."""
    condition = next(
        (c for c in patch.get("conditions") or () if c.get("type") == "Succeeded"), None
    )
    if condition is None or condition.get("reason") not in NOTIFY_TRANSITIONS:
        return None
    transition: NotifyTransition = condition["reason"]
    held = None
    pending = patch.get("pendingApproval")
    if transition == "AwaitingApproval":
        if not isinstance(pending, Mapping) or not pending.get("toolCallId"):
            return None  # a held run always shows its call; without it there is nothing to act on
        held = HeldCall(
            tool_call_id=str(pending["toolCallId"]),
            tool=str(pending.get("tool") or ""),
            risk=str(pending.get("risk") or ""),
            arguments=str(pending.get("arguments") or ""),
        )
    message = str(condition.get("message") or "")
    result = patch.get("result")
    if transition == "Succeeded" and isinstance(result, Mapping) and result.get("summary"):
        message = str(result["summary"])  # the answer itself says more than "it answered"
    return Notice(
        namespace=namespace,
        name=name,
        uid=uid,
        task=task,
        transition=transition,
        message=message,
        held=held,
    )


def wanted_by(route: NotifyRoute, notice: Notice) -> bool:
    """Whether ``route`` asks to hear of ``notice``."""
    if route.destructive_holds_only:
        return notice.held is not None and notice.held.risk == "DESTRUCTIVE"
    return wanted_on(route.on, notice.transition)


def wanted_on(on: frozenset[NotifyTransition], transition: NotifyTransition) -> bool:
    """Whether ``on`` asks for ``transition``. ``Failed`` also stands for every end the run's
    Events call ``Failed`` (``LimitExceeded``, ``ProviderError``, ``InvalidTask``...), so
    ``on: [Failed]`` hears of every failure whatever its precise reason."""
    if transition in on:
        return True
    return "Failed" in on and transition_event(None, transition) == ("Warning", "Failed")


def run_link(public_url: str | None, *, namespace: str, name: str) -> str | None:
    """The run in the web view, when the operator knows where the web view is."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/ui/#/runs/{namespace}/{name}"


def redact_arguments(arguments: str, *, limit: int = ARGUMENTS_MAX_CHARS) -> str:
    """A held call's JSON arguments with secret-looking values masked, cut to ``limit``."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        # Status cuts long arguments, so the JSON may not parse: mask by pattern instead.
        text = re.sub(
            r'("[^"]*(?:pass|secret|token|key|credential|auth|cookie|session)[^"]*"\s*:\s*)'
            r'"(?:[^"\\]|\\.)*"?',
            rf'\1"{_MASK}"',
            arguments,
            flags=re.I,
        )
    else:
        text = json.dumps(_masked(parsed), separators=(",", ":"), ensure_ascii=False)
    return _shorten(text, limit)


def compose(notice: Notice, *, public_url: str | None) -> Message:
    """The title and body of ``notice``: a few short lines a phone shows whole."""
    run = f"{notice.namespace}/{notice.name}"
    link = run_link(public_url, namespace=notice.namespace, name=notice.name)
    task = f"Task {notice.task}" if notice.task else "inline Task"
    lines: list[str]
    if notice.held is not None:
        held = notice.held
        title = f"Approval needed: {run}"
        severity: Severity = "approval"
        where = f"{notice.name} -n {notice.namespace} --tool-call {held.tool_call_id}"
        lines = [
            f"{run} ({task}) wants to call {held.tool} ({held.risk}).",
            f"Arguments: {redact_arguments(held.arguments)}",
            f"Approve: kubectl mc approve {where}",
            f"Reject: kubectl mc reject {where}",
        ]
    else:
        title = f"{notice.transition}: {run}"
        severity = "success" if notice.transition == "Succeeded" else "failure"
        lines = [f"{run} ({task}): {_shorten(notice.message, MESSAGE_MAX_CHARS)}"]
    if link is not None:
        lines.append(link)
    return Message(title=title, body="\n".join(lines), severity=severity, link=link)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _MASK if _SECRET_NAME.search(str(key)) else _masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS
