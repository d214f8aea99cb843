"""Pieces shared by the custom resources' models: conditions, model references, money."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from mission_control.resources import crds

__all__ = [
    "Condition",
    "ConditionStatus",
    "DnsSubdomain",
    "KubernetesObject",
    "Metadata",
    "ModelRef",
    "ProviderName",
    "Resource",
    "UsdAmount",
    "require_unique",
]

ProviderName = Literal["ollama", "gemini", "anthropic"]
ConditionStatus = Literal["True", "False", "Unknown"]
DnsSubdomain = Annotated[str, Field(max_length=253, pattern=crds.DNS_SUBDOMAIN)]

_DECIMAL_USD = re.compile(crds.DECIMAL_USD)


def _parse_usd(value: Any) -> Any:
    # The CRDs carry money as decimal strings (floats would round); accept the same text here.
    if isinstance(value, str) and not _DECIMAL_USD.fullmatch(value):
        raise ValueError('must be a decimal amount of US dollars such as "0.50"')
    return Decimal(value) if isinstance(value, str) else value


UsdAmount = Annotated[
    Decimal,
    BeforeValidator(_parse_usd),
    Field(ge=0),
    PlainSerializer(lambda value: format(value, "f"), return_type=str),
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


class ModelRef(Resource):
    """Which LLM to use."""

    provider: ProviderName
    name: str | None = Field(default=None, min_length=1, max_length=200)


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
