"""Prometheus tools: instant queries as rows, range queries summarised per series."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mission_control.connectors import MISSING_SETTINGS
from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.connectors.prometheus import PrometheusConnector, QueryResult, Series
from mission_control.tools.base import RiskLevel, Tool, ToolContext, ToolOutput
from mission_control.tools.formatting import table

__all__ = ["PROMETHEUS_TOOLS", "series_name"]

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
#: Points per series asked for when the model gives no step: plenty for min/max/last.
DEFAULT_POINTS = 240


def _prometheus(ctx: ToolContext) -> PrometheusConnector:
    if ctx.connectors.prometheus is None:
        raise ConnectorNotConfigured(
            f"Prometheus is not configured: {MISSING_SETTINGS['prometheus']}"
        )
    return ctx.connectors.prometheus


def series_name(labels: dict[str, str]) -> str:
    """``name{a="1",b="2"}`` as PromQL writes it; ``{}`` for an unlabelled result."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


#: Series names are the point of a row; allow them far wider than other cells.
SERIES_WIDTH = 400


def _common_labels(series: tuple[Series, ...]) -> dict[str, str]:
    """Labels every series shares (job, instance...): said once instead of on every row."""
    if len(series) < 2:
        return {}
    first, *rest = (s.labels for s in series)
    return {k: v for k, v in first.items() if k != "__name__" and all(o.get(k) == v for o in rest)}


def _without(labels: dict[str, str], common: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in common}


def _common_line(common: dict[str, str]) -> str:
    return f"common labels: {series_name(common)}\n" if common else ""


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def _warnings(result: QueryResult) -> str:
    return "".join(f"\nwarning: {w}" for w in result.warnings)


class QueryArgs(BaseModel):
    """An instant PromQL query."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=5000, description="PromQL expression.")
    time: dt.datetime | None = Field(
        default=None, description="Evaluation time (RFC 3339); default: now."
    )


async def _query(args: QueryArgs, ctx: ToolContext) -> ToolOutput:
    result = await _prometheus(ctx).query(args.query, at=args.time)
    raw = asdict(result)
    if result.result_type == "string":
        return ToolOutput(text=f"string: {result.text}{_warnings(result)}", raw=raw)
    if result.result_type == "scalar":
        sample = result.series[0].samples[0]
        text = f"scalar: {_number(sample.value)} at {_when(sample.timestamp)}"
        return ToolOutput(text=text + _warnings(result), raw=raw)
    if result.result_type == "matrix":
        # A range selector (metric[5m]) in an instant query: show each series' newest sample.
        return ToolOutput(text=_summary(result.series) + _warnings(result), raw=raw)
    common = _common_labels(result.series)
    rows = [
        [_number(s.samples[-1].value), series_name(_without(s.labels, common))]
        for s in result.series
        if s.samples
    ]
    at = _when(result.series[0].samples[-1].timestamp) if rows else ""
    text = table(
        ["VALUE", "SERIES"], rows, empty="no series match (empty result)", max_cell=SERIES_WIDTH
    )
    if rows:
        text = f"{len(rows)} series at {at}\n{_common_line(common)}{text}"
    return ToolOutput(text=text + _warnings(result), raw=raw)


class RangeQueryArgs(BaseModel):
    """A range PromQL query over the last ``duration_minutes`` up to ``end``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=5000, description="PromQL expression.")
    duration_minutes: int = Field(
        default=60, ge=1, le=7 * 24 * 60, description="How far back from end to look."
    )
    step_seconds: int | None = Field(
        default=None,
        ge=1,
        le=86_400,
        description="Resolution; default: the range divided into about 240 points.",
    )
    end: dt.datetime | None = Field(default=None, description="End (RFC 3339); default: now.")

    @model_validator(mode="after")
    def _bounded_points(self) -> Self:
        if self.step_seconds is not None:
            points = self.duration_minutes * 60 // self.step_seconds
            if points > MAX_POINTS:
                raise ValueError(
                    f"step_seconds {self.step_seconds} gives {points} points per series; "
                    f"Prometheus allows {MAX_POINTS}: use a larger step_seconds"
                )
        return self

    def step(self) -> int:
        if self.step_seconds is not None:
            return self.step_seconds
        return max(1, math.ceil(self.duration_minutes * 60 / DEFAULT_POINTS))


def _summary(series: tuple[Series, ...]) -> str:
    common = _common_labels(series)
    rows = []
    for s in series:
        values = [x.value for x in s.samples if not math.isnan(x.value)]
        last = s.samples[-1].value if s.samples else math.nan
        rows.append(
            [
                _number(min(values)) if values else "NaN",
                _number(max(values)) if values else "NaN",
                _number(last),
                len(s.samples),
                series_name(_without(s.labels, common)),
            ]
        )
    return _common_line(common) + table(
        ["MIN", "MAX", "LAST", "POINTS", "SERIES"],
        rows,
        empty="no series match (empty result)",
        max_cell=SERIES_WIDTH,
    )


async def _query_range(args: RangeQueryArgs, ctx: ToolContext) -> ToolOutput:
    end = args.end or dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(minutes=args.duration_minutes)
    result = await _prometheus(ctx).query_range(
        args.query, start=start, end=end, step_seconds=args.step()
    )
    head = (
        f"{len(result.series)} series from {start.isoformat(timespec='seconds')} to "
        f"{end.isoformat(timespec='seconds')}, step {args.step()}s\n"
    )
    return ToolOutput(text=head + _summary(result.series) + _warnings(result), raw=asdict(result))


PROMETHEUS_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="query_prometheus",
        description=(
            "Run an instant PromQL query and get one row per series (labels and value). "
            "Example: sum by (namespace) (kube_pod_container_status_restarts_total). "
            "Bad PromQL returns Prometheus' own error message."
        ),
        arguments=QueryArgs,
        risk=RiskLevel.READ_ONLY,
        connector="prometheus",
        run=_query,
        timeout_seconds=30,
    ),
    Tool(
        name="query_prometheus_range",
        description=(
            "Run a PromQL range query over the last duration_minutes and get each series "
            "summarised as min, max and last value. Use it for trends, e.g. "
            'rate(node_cpu_seconds_total{mode!="idle"}[5m]).'
        ),
        arguments=RangeQueryArgs,
        risk=RiskLevel.READ_ONLY,
        connector="prometheus",
        run=_query_range,
        timeout_seconds=60,
    ),
)
