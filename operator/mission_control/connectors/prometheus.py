"""Prometheus over its HTTP API (``/api/v1/query`` and ``/api/v1/query_range``).

Queries are sent as form-encoded POSTs (long PromQL does not hit URL limits). Failures are
translated once, in :meth:`PrometheusConnector._query`; Prometheus' own error text (bad
PromQL, execution errors) is kept, because it is what the model needs to fix its query.
Results are parsed at the edge into :class:`QueryResult`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission_control.connectors.errors import (
    ConnectorAuthError,
    ConnectorForbidden,
    ConnectorRequestError,
    ConnectorUnavailable,
    display_url,
)
from mission_control.settings import PrometheusSettings

__all__ = ["PrometheusConnector", "QueryResult", "Sample", "Series"]

ResultType = Literal["vector", "matrix", "scalar", "string"]


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One value at one time (unix seconds); NaN and infinities are kept as floats."""

    timestamp: float
    value: float


@dataclass(frozen=True, kw_only=True)
class Series:
    """One labelled series: one sample for an instant query, many for a range query."""

    labels: dict[str, str]
    samples: tuple[Sample, ...]


@dataclass(frozen=True, kw_only=True)
class QueryResult:
    """A parsed query answer. Scalars come back as one unlabelled series."""

    result_type: ResultType
    series: tuple[Series, ...]
    warnings: tuple[str, ...] = ()
    text: str | None = None  # for string results


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    status: str
    data: Any = None
    error_type: str | None = Field(default=None, alias="errorType")
    error: str | None = None
    warnings: list[str] | None = None


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    result_type: ResultType = Field(alias="resultType")
    result: Any


class _VectorItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metric: dict[str, str] = {}
    value: tuple[float, str] | None = None
    values: list[tuple[float, str]] | None = None


def _sample(pair: tuple[float, str]) -> Sample:
    # Prometheus sends values as strings ("NaN", "+Inf" included); float() reads them all.
    return Sample(timestamp=float(pair[0]), value=float(pair[1]))


def _to_result(data: _Data, warnings: list[str] | None) -> QueryResult:
    warned = tuple(warnings or ())
    if data.result_type in ("scalar", "string"):
        pair = (float(data.result[0]), str(data.result[1]))
        if data.result_type == "string":
            return QueryResult(result_type="string", series=(), warnings=warned, text=pair[1])
        return QueryResult(
            result_type="scalar",
            series=(Series(labels={}, samples=(_sample(pair),)),),
            warnings=warned,
        )
    items = [_VectorItem.model_validate(item) for item in data.result or []]
    series = tuple(
        Series(
            labels=dict(item.metric),
            samples=tuple(
                _sample(p) for p in (item.values or ([item.value] if item.value else []))
            ),
        )
        for item in items
    )
    return QueryResult(result_type=data.result_type, series=series, warnings=warned)


def _timestamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f"{value.timestamp():.3f}"


#: Share of the request timeout Prometheus itself may spend evaluating a query: it then
#: answers "query timed out" rather than computing on after we stopped waiting.
_EVALUATION_SHARE = 0.8


class PrometheusConnector:
    """Runs instant and range PromQL queries.

    Every query carries an evaluation ``timeout`` a little under the request timeout, so an
    expensive query is stopped by Prometheus too, not merely abandoned by us.
    """

    def __init__(self, *, client: httpx.AsyncClient, url: str, timeout_seconds: float) -> None:
        self._client = client
        #: The server's URL as messages show it (never with credentials).
        self.url = display_url(url)
        self._evaluation_timeout = timeout_seconds * _EVALUATION_SHARE

    @classmethod
    def from_settings(cls, settings: PrometheusSettings) -> PrometheusConnector:
        if settings.url is None:
            raise ValueError("Prometheus settings need PROMETHEUS_URL")
        url = settings.url.get_secret_value().rstrip("/")
        client = httpx.AsyncClient(base_url=url, timeout=settings.timeout_seconds)
        return cls(client=client, url=url, timeout_seconds=settings.timeout_seconds)

    def __repr__(self) -> str:
        return f"PrometheusConnector(url={self.url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self) -> None:
        """Raise a connector error unless the server answers a trivial query."""
        await self.query("1")

    async def query(self, expr: str, *, at: dt.datetime | None = None) -> QueryResult:
        form = {"query": expr}
        if (time := _timestamp(at)) is not None:
            form["time"] = time
        return await self._query("/api/v1/query", form)

    async def query_range(
        self, expr: str, *, start: dt.datetime, end: dt.datetime, step_seconds: float
    ) -> QueryResult:
        if not math.isfinite(step_seconds) or step_seconds <= 0:
            raise ConnectorRequestError("the step of a range query must be a positive number")
        form = {
            "query": expr,
            "start": _timestamp(start) or "",
            "end": _timestamp(end) or "",
            "step": f"{step_seconds:g}",
        }
        return await self._query("/api/v1/query_range", form)

    # -- the one place httpx errors and Prometheus error bodies are translated ----------------

    async def _query(self, path: str, form: dict[str, str]) -> QueryResult:
        where = f"Prometheus at {self.url}"
        form = {**form, "timeout": f"{self._evaluation_timeout:.3f}"}
        try:
            response = await self._client.post(path, data=form)
        except httpx.TimeoutException:
            raise ConnectorUnavailable(
                f"{where} did not answer in time; simplify the query or raise "
                "PROMETHEUS_TIMEOUT_SECONDS"
            ) from None
        except httpx.HTTPError as exc:
            raise ConnectorUnavailable(f"{where} is unreachable: {exc}") from None
        if response.status_code == 401:
            raise ConnectorAuthError(f"{where} requires authentication (401)")
        if response.status_code == 403:
            raise ConnectorForbidden(f"{where} refused the query (403)")
        try:
            envelope = _Envelope.model_validate(response.json())
        except (ValueError, ValidationError):
            raise ConnectorUnavailable(
                f"{where} answered {response.status_code} without a Prometheus API body; "
                "check that PROMETHEUS_URL points at the Prometheus server"
            ) from None
        if envelope.status != "success":
            kind = envelope.error_type or "error"
            text = envelope.error or "no error text"
            # 400 bad_data / 422 execution are the query's fault; 503 timeout/unavailable are not.
            if kind == "timeout":
                raise ConnectorUnavailable(
                    f"{where} stopped the query after {self._evaluation_timeout:g}s ({text}); "
                    "narrow it: fewer series, a shorter range or a larger step"
                )
            if response.status_code >= 500 or kind in ("unavailable", "internal"):
                raise ConnectorUnavailable(f"{where} failed the query ({kind}): {text}")
            raise ConnectorRequestError(f"{where} rejected the query ({kind}): {text}")
        try:
            data = _Data.model_validate(envelope.data)
            return _to_result(data, envelope.warnings)
        except (ValidationError, ValueError, TypeError, IndexError) as exc:
            raise ConnectorUnavailable(f"{where} sent an unexpected result: {exc}") from None
