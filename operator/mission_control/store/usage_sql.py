"""The SQL that sums token usage, shared by the budget checks and the sidecar's reads.

Only constant fragments are joined here: every value a caller gives stays a bound parameter,
and a filter whose parameter is NULL matches every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

__all__ = [
    "BY_DAY",
    "IN_PERIOD",
    "OF_NAMESPACE",
    "OF_TASK",
    "SUMS",
    "grouped_sums",
]

#: The columns of :class:`~mission_control.store.records.UsageSum`.
SUMS = """count(*)::integer AS requests,
    coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
    coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens,
    coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint AS total_tokens,
    coalesce(sum(cost_usd), 0) AS cost_usd"""

#: The key of :class:`~mission_control.store.records.UsageTotal`: UTC day, provider and model.
BY_DAY: tuple[LiteralString, ...] = (
    "(created_at AT TIME ZONE 'UTC')::date AS day",
    "provider",
    "model",
)

#: ``[since, until)``, either end open when NULL.
IN_PERIOD = """(%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)"""
OF_NAMESPACE = "(%(namespace)s::text IS NULL OR namespace = %(namespace)s)"
OF_TASK = "(%(task)s::text IS NULL OR task = %(task)s)"


def grouped_sums(*, keys: Sequence[LiteralString], filters: Sequence[LiteralString]) -> str:
    """A query of ``keys`` and :data:`SUMS` over the rows that pass every filter, by key."""
    positions = ", ".join(str(n) for n in range(1, len(keys) + 1))
    where = "\n  AND ".join(filters)
    return f"""
SELECT {", ".join(keys)},
    {SUMS}
FROM token_usage
WHERE {where}
GROUP BY {positions}
ORDER BY {positions}
"""
