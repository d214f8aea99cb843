"""The one seam where values become the JSON that ``jsonb`` columns hold.

Every connection of the store's pool serialises ``Jsonb`` parameters with :func:`dumps`, so
no write can bypass it. PostgreSQL's ``jsonb`` accepts only standard JSON: the non-finite
floats that Prometheus and arithmetic produce (NaN, +Inf, -Inf) are written as the strings
Prometheus itself uses, ``"NaN"``, ``"+Inf"`` and ``"-Inf"``. Tuples become arrays; a key that
is not a string, or a value JSON has no form for, is refused before anything is sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NON_FINITE", "dumps", "encode", "json_safe"]

#: The string written for each non-finite float (Prometheus's own spelling).
NON_FINITE = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its string; containers copied."""
    if isinstance(value, float) and not math.isfinite(value):
        return NON_FINITE[repr(value)]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        safe: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            safe[key] = json_safe(item)
        return safe
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [json_safe(item) for item in value]
    raise TypeError(f"a {type(value).__name__} cannot be stored as JSON")


def encode(value: Any) -> tuple[str, Any]:
    """Standard JSON text of ``value`` and the value it stands for (what reading it back gives).

    Most values are plain JSON already: the C encoder writes them, and parsing its text back
    proves it (a key that is not a string, a tuple or a non-finite float would not come back
    equal). Only the others take the walk of :func:`json_safe`, which is ten times slower.
    """
    try:
        text = _ENCODER.encode(value)
        back = json.loads(text)
    except (TypeError, ValueError):
        pass
    else:
        if back == value:
            return text, back
    safe = json_safe(value)
    return _ENCODER.encode(safe), safe


def dumps(value: Any) -> str:
    """Standard JSON text of ``value`` (see :func:`json_safe`); never NaN or Infinity."""
    return encode(value)[0]
