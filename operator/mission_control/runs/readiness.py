"""Whether a Task or a ToolPolicy can be used: the ``Ready`` condition's reason and message.

A Task is Ready when every tool it lists is registered (``UnknownTool``) and can run with the
configured connectors (``ToolUnavailable``, naming the setting to add), its provider is
configured (``ProviderUnavailable``, naming the setting), the ToolPolicy it names exists
(``PolicyNotFound``), and every ``$(params.NAME)`` of its prompt names a declared param
(``InvalidParams``); the handlers add what the model's server or table says of each model of
the chain (``ModelCannotCallTools``, ``ModelNotPulled``). A ToolPolicy is Ready when every
tool glob of its rules matches a registered tool (``UnknownTool``: a typo would otherwise make
a rule silently match nothing).

The same function judges a Task for its Ready condition and a run at its start, so a TaskRun
created together with its Task fails with the same words the Task's condition shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Literal

from mission_control.resources.common import Condition
from mission_control.resources.task import TaskSpec
from mission_control.runs.params import PLACEHOLDER

__all__ = [
    "Capabilities",
    "Readiness",
    "ReadyReason",
    "policy_readiness",
    "ready_condition",
    "task_readiness",
]

ReadyReason = Literal[
    "Valid",
    "UnknownTool",
    "ToolUnavailable",
    "ProviderUnavailable",
    "PolicyNotFound",
    "InvalidParams",
    "ModelCannotCallTools",
    "ModelNotPulled",
    "InvalidSchedule",
    "InvalidMatcher",
    "TokenMissing",
    "TokenForbidden",
    "TaskNotFound",
]


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What this operator can serve, fixed at start-up.

    ``unavailable_tools`` maps a registered tool whose backend is not configured to a sentence
    naming the setting to add; ``unconfigured_providers`` maps a provider without settings to
    the variable to set.
    """

    tools: frozenset[str]
    unavailable_tools: Mapping[str, str]
    unconfigured_providers: Mapping[str, str]
    default_provider: str


@dataclass(frozen=True, kw_only=True)
class Readiness:
    """The verdict: ``ready`` with reason ``Valid``, or why not in words a user can act on."""

    ready: bool
    reason: ReadyReason
    message: str


_VALID = Readiness(ready=True, reason="Valid", message="")


def task_readiness(
    spec: TaskSpec, *, capabilities: Capabilities, policy_found: bool | None
) -> Readiness:
    """Judge a Task's spec; ``policy_found`` is None when the Task names no ToolPolicy."""
    unknown = [tool for tool in spec.tools if tool not in capabilities.tools]
    if unknown:
        return Readiness(
            ready=False,
            reason="UnknownTool",
            message=f"unknown tool {', '.join(unknown)}: not a registered tool "
            f"(registered: {', '.join(sorted(capabilities.tools))})",
        )
    unavailable = [
        capabilities.unavailable_tools[tool]
        for tool in spec.tools
        if tool in capabilities.unavailable_tools
    ]
    if unavailable:
        return Readiness(ready=False, reason="ToolUnavailable", message="; ".join(unavailable))
    provider = spec.model.provider if spec.model is not None else capabilities.default_provider
    if provider in capabilities.unconfigured_providers:
        setting = capabilities.unconfigured_providers[provider]
        chosen = "the Task's provider" if spec.model is not None else "the default provider"
        return Readiness(
            ready=False,
            reason="ProviderUnavailable",
            message=f"{chosen} {provider} is not configured: set {setting}",
        )
    if policy_found is False and spec.policy_ref is not None:
        return Readiness(
            ready=False,
            reason="PolicyNotFound",
            message=f"ToolPolicy {spec.policy_ref.name} named by policyRef does not exist in "
            "this namespace: create it or fix spec.policyRef",
        )
    return _params_readiness(spec)


def _params_readiness(spec: TaskSpec) -> Readiness:
    declared = {param.name for param in spec.params}
    texts = [spec.prompt, spec.system_prompt or ""]
    used = {match.group(1) for text in texts for match in PLACEHOLDER.finditer(text)}
    undeclared = sorted(used - declared)
    if undeclared:
        return Readiness(
            ready=False,
            reason="InvalidParams",
            message=f"the prompt uses $(params.{undeclared[0]})"
            + (f" and {len(undeclared) - 1} more" if len(undeclared) > 1 else "")
            + f" but spec.params does not declare {', '.join(undeclared)}",
        )
    return _VALID


def policy_readiness(rule_globs: Sequence[Sequence[str]], *, tools: frozenset[str]) -> Readiness:
    """Judge a ToolPolicy by its rules' tool globs (one sequence per rule)."""
    dead = [
        glob
        for globs in rule_globs
        for glob in globs
        if not any(fnmatchcase(tool, glob) for tool in tools)
    ]
    if dead:
        return Readiness(
            ready=False,
            reason="UnknownTool",
            message=f"rule tools {', '.join(dict.fromkeys(dead))} match no registered tool "
            f"(registered: {', '.join(sorted(tools))})",
        )
    return _VALID


def ready_condition(
    readiness: Readiness, *, generation: int | None, now: datetime, previous: Condition | None
) -> Condition:
    """The ``Ready`` condition; ``lastTransitionTime`` moves only when status or reason do."""
    status: Literal["True", "False"] = "True" if readiness.ready else "False"
    unchanged = (
        previous is not None
        and previous.status == status
        and previous.reason == readiness.reason
        and previous.last_transition_time is not None
    )
    return Condition(
        type="Ready",
        status=status,
        reason=readiness.reason,
        message=readiness.message,
        last_transition_time=(
            previous.last_transition_time if unchanged and previous else now.replace(microsecond=0)
        ),
        observed_generation=generation,
    )
