"""Pure decisions for a run: policy, budgets, approvals, parameters, status and conditions.

Contract: purely computational. Functions here take typed values (the resource models, token
usage, the clock as an argument) and return decisions; they do no I/O, import no client
library and know neither the store nor the connectors nor the provider adapters. The run loop
(:mod:`mission_control.agent`) and the handlers call them and carry out what they decide.

Empty for now: the operator fills it. See ``docs/architecture.md``.
"""

__all__: list[str] = []
