"""Compact, bounded text for the model: fixed-width tables and human-readable quantities.

Pure functions. Tables cap the number of rows and the width of each cell, and say so
visibly when they cut, so the model knows it is not seeing everything.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["human_bytes", "human_duration", "percent", "table"]

MAX_ROWS = 200
MAX_CELL = 60


def _cell(value: object, limit: int) -> str:
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split())  # one line per row, whatever the source put in a name
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    empty: str,
    max_rows: int = MAX_ROWS,
    max_cell: int = MAX_CELL,
) -> str:
    """A fixed-width table; ``empty`` is the whole answer when there are no rows."""
    if not rows:
        return empty
    shown = [[_cell(value, max_cell) for value in row] for row in rows[:max_rows]]
    widths = [
        max([len(header)] + [len(row[i]) for row in shown]) for i, header in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in shown
    ]
    if len(rows) > max_rows:
        lines.append(f"[... {len(rows) - max_rows} more rows not shown; narrow the request ...]")
    return "\n".join(lines)


def human_bytes(value: int | float | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: int | float | None) -> str:
    if not seconds or seconds < 0:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.1f}%"
