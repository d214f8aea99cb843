"""``--selector``: which TaskRuns this operator serves, for sharding runs among operators.

The syntax is kubectl's equality-based one: ``key=value``, ``key!=value``, ``key`` (present)
and ``!key`` (absent), comma-separated, all of which must hold. Operators whose selectors are
disjoint never touch each other's runs: kopf's filters keep the daemon, the finalizer, the
watch handlers and the clean-up of a run that does not match away from it. Tasks and
policies are served by every operator (their verdicts are the same everywhere).
"""

from __future__ import annotations

import re
from typing import Any

import kopf

from mission_control.errors import ConfigError

__all__ = ["LabelFilter", "parse_selector"]

#: What kopf's ``labels=`` filter takes: a value, PRESENT/ABSENT, or a callable per key.
LabelFilter = dict[str, Any]

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _other_than(value: str) -> Any:
    def check(label: str | None, **_: Any) -> bool:
        return label != value

    return check


def parse_selector(text: str) -> LabelFilter:
    """The selector as kopf's ``labels=`` filter; a ConfigError naming what is wrong."""
    result: LabelFilter = {}
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            raise ConfigError(f"--selector {text!r}: an empty term")
        if "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            matcher: Any = _other_than(value)
        elif "=" in term:
            key, value = (part.strip() for part in term.split("=", 1))
            value = value.removeprefix("=").strip()  # ``==`` as kubectl allows
            matcher = value
        elif term.startswith("!"):
            key, value, matcher = term[1:].strip(), "", kopf.ABSENT
        else:
            key, value, matcher = term, "", kopf.PRESENT
        if not _KEY.match(key) or not _VALUE.match(value):
            raise ConfigError(f"--selector {text!r}: {term!r} is not a label key or value")
        if key in result:
            raise ConfigError(f"--selector {text!r}: {key} appears twice")
        result[key] = matcher
    return result
