"""``$(params.NAME)`` substitution in a Task's prompt.

Plain text substitution in one pass: a value is inserted as it is and never evaluated or
substituted again, so a value containing ``$(params.other)`` stays literal. Every placeholder
must name a declared param that has a value (given, or the Task's default); every given param
must be declared by the Task. Both mistakes are :class:`InvalidParams` naming the params, so a
typo in a TaskRun fails the run at once instead of being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from mission_control.errors import PermanentError
from mission_control.resources.task import Param

__all__ = ["PLACEHOLDER", "InvalidParams", "resolve_values", "substitute"]

#: A placeholder; the name follows the CRD's param name pattern.
PLACEHOLDER = re.compile(r"\$\(params\.([A-Za-z_][A-Za-z0-9_-]*)\)")


class InvalidParams(PermanentError):
    """Params that do not fit the Task; ``names`` lists the offending params, sorted."""

    def __init__(self, message: str, *, names: Sequence[str]) -> None:
        super().__init__(message)
        self.names = tuple(names)


def resolve_values(*, declared: Sequence[Param], given: Mapping[str, str]) -> dict[str, str]:
    """The value of every declared param that has one; undeclared given params are an error."""
    known = {param.name for param in declared}
    unknown = sorted(set(given) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise InvalidParams(
            f"the Task declares no param {', '.join(unknown)} (it declares: {listed})",
            names=unknown,
        )
    values = {p.name: p.default for p in declared if p.default is not None}
    values.update(given)
    return values


def substitute(text: str, *, declared: Sequence[Param], given: Mapping[str, str]) -> str:
    """``text`` with every ``$(params.NAME)`` replaced by its value."""
    values = resolve_values(declared=declared, given=given)
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        undeclared = [name for name in missing if name not in {p.name for p in declared}]
        detail = (
            f"{', '.join(undeclared)} not declared by the Task"
            if undeclared
            else "no value given and no default"
        )
        raise InvalidParams(
            f"param {', '.join(missing)} has no value ({detail}); set it in spec.params",
            names=missing,
        )
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
