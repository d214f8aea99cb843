"""``--selector``: which TaskRuns this operator serves, for sharding runs among operators.

The syntax is kubectl's equality-based one: ``key=value``, ``key!=value``, ``key`` (present)
and ``!key`` (absent), comma-separated, all of which must hold. Operators whose selectors are
disjoint never touch each other's runs: kopf's filters keep the daemon, the finalizer, the
watch handlers and the clean-up of a run that does not match away from it. TaskTriggers are
sharded by their own labels in the same way (kopf's filters for their handlers, :func:`matches`
for the webhook receiver), and the runs a trigger starts carry the trigger's labels, so they
land in the trigger's shard. Tasks and policies are served by every operator (their verdicts
are the same everywhere).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import kopf

from mission_control.errors import ConfigError

__all__ = ["LabelFilter", "matches", "parse_selector", "with_present"]

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


def _term_holds(matcher: Any, *, key: str, labels: Mapping[str, str]) -> bool:
    # The same reading of a term as kopf's own filters: PRESENT/ABSENT, a check of the value
    # (None when the label is missing), else the value itself.
    if matcher is kopf.PRESENT:
        return key in labels
    if matcher is kopf.ABSENT:
        return key not in labels
    if callable(matcher):
        return bool(matcher(labels.get(key)))
    return key in labels and labels[key] == matcher


def matches(selector: LabelFilter | None, labels: Mapping[str, str] | None) -> bool:
    """Whether an object with ``labels`` is served under ``selector`` (None serves all)."""
    given = labels or {}
    return all(
        _term_holds(matcher, key=key, labels=given) for key, matcher in (selector or {}).items()
    )


def with_present(selector: LabelFilter | None, key: str) -> LabelFilter:
    """``selector`` that also requires label ``key``: a term of the selector on ``key`` still
    holds besides."""
    result = dict(selector or {})
    term = result.get(key)
    if term is None or term is kopf.PRESENT:
        result[key] = kopf.PRESENT
        return result

    def check(label: str | None, **_: Any) -> bool:
        return label is not None and _term_holds(term, key=key, labels={key: label})

    result[key] = check
    return result
