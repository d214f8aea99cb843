"""Pieces shared by the custom resources' models: conditions, model references, money."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from mission_control.resources.schemas import patterns

__all__ = [
    "Condition",
    "ConditionStatus",
    "DnsSubdomain",
    "FallbackModel",
    "KubernetesObject",
    "Metadata",
    "ModelRef",
    "ProviderName",
    "Resource",
    "UsdAmount",
    "UsdTotal",
    "UserName",
    "require_unique",
]

ProviderName = Literal["ollama", "gemini", "anthropic"]
ConditionStatus = Literal["True", "False", "Unknown"]
DnsSubdomain = Annotated[str, Field(max_length=253, pattern=patterns.DNS_SUBDOMAIN)]


def _money(pattern: str) -> BeforeValidator:
    """Money is text on the wire (floats would round): accept that text, or a Decimal or int
    that prints as such text, and nothing the API server's ``pattern`` would reject."""
    regex = re.compile(pattern)

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            value = format(value, "f")
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise ValueError(
                'must be a decimal amount of US dollars written as text, such as "0.50"'
            )
        return Decimal(value)

    return BeforeValidator(parse)


_AS_TEXT = PlainSerializer(lambda value: format(value, "f"), return_type=str)

#: A limit or budget: up to six decimals.
UsdAmount = Annotated[Decimal, _money(patterns.DECIMAL_USD), _AS_TEXT]
#: A running total (status): exact sums of per-token prices need more decimals.
UsdTotal = Annotated[Decimal, _money(patterns.COST_TOTAL), _AS_TEXT]


def _exact_name(value: str) -> str:
    if value != value.strip():
        raise ValueError("must be the name exactly, without leading or trailing spaces")
    return value


#: A Kubernetes user (or group) name as ``request.userInfo`` carries it.
UserName = Annotated[
    str, Field(min_length=1, max_length=patterns.USER_NAME_MAX), AfterValidator(_exact_name)
]


class Resource(BaseModel):
    """Base of every resource model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_k8s(self) -> dict[str, Any]:
        """The JSON form the API server accepts: camelCase, only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


class KubernetesObject(Resource):
    """A whole object: ``apiVersion`` and ``kind`` are always part of its JSON form."""

    api_version: str
    kind: str

    def to_k8s(self) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "kind": self.kind, **super().to_k8s()}


class Condition(Resource):
    """A condition in the Kubernetes API conventions."""

    type: str = Field(max_length=316)
    status: ConditionStatus
    reason: str = Field(default="", max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime | None = None
    observed_generation: int | None = Field(default=None, ge=0)


class FallbackModel(Resource):
    """A model tried when the ones before it in the chain are out."""

    provider: ProviderName
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=patterns.NO_SPACE)


class ModelRef(Resource):
    """Which LLM to use, and which to fall back to on outages (in order)."""

    provider: ProviderName
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=patterns.NO_SPACE)
    fallbacks: list[FallbackModel] = Field(default_factory=list, max_length=patterns.MAX_FALLBACKS)


class Metadata(Resource):
    """The parts of ObjectMeta the operator reads."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )
    name: str
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None


def require_unique(keys: list[str], *, what: str) -> None:
    """Reject repeated keys, as the API server does for list-map fields."""
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")
