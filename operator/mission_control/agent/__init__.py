"""The run loop: one TaskRun from its first LLM request to its final answer.

Contract: drives an LLM client (:mod:`mission_control.llm`) over the tools
(:mod:`mission_control.tools`), writes every step to the journal first
(:mod:`mission_control.store`) and asks :mod:`mission_control.runs` for every decision (policy,
budgets, approvals, status). It never imports kopf and never reads Kubernetes objects: the
handlers resolve the run into a :class:`RunRequest`, call :func:`drive_run` with a
:class:`RunReporter` (status patches, Events) and a :class:`RunControl` (live approvals,
cancellation), and the loop reports through them. It runs the same under a test as under the
operator. See ``docs/architecture.md``.
"""

from mission_control.agent.ports import ProviderSource, RunControl, RunReporter
from mission_control.agent.request import AgentLimits, AgentServices, RunOutcome, RunRequest
from mission_control.agent.run import drive_run, report_invalid

__all__ = [
    "AgentLimits",
    "AgentServices",
    "ProviderSource",
    "RunControl",
    "RunOutcome",
    "RunReporter",
    "RunRequest",
    "drive_run",
    "report_invalid",
]
