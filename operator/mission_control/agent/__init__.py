"""The run loop: one TaskRun from its first LLM request to its final answer.

Contract: drives an LLM client (:mod:`mission_control.llm`) over the tools
(:mod:`mission_control.tools`), writes every step to the journal first
(:mod:`mission_control.store`) and asks :mod:`mission_control.runs` for every decision (policy,
budgets, approvals, status). It never imports kopf: the handlers start it and report what it
returns, so it runs the same under a test as under the operator.

Empty for now: the operator fills it. See ``docs/architecture.md``.
"""

__all__: list[str] = []
