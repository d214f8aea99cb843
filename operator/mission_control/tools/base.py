"""The shape of a tool, shared by the registry, the tools and the run loop.

A tool is a name, a description written for the model, a pydantic model of its arguments
(whose JSON schema is what the model sees), a risk level fixed in code, a timeout, the
connector it needs, an async run function and, for mutating tools, a preview used by dry
runs. This module is pure: no I/O happens here.
"""

from __future__ import annotations

import copy
import enum
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from mission_control.connectors import MISSING_SETTINGS, ConnectorName
from mission_control.errors import PermanentError
from mission_control.tools.schema import compact_schema

if TYPE_CHECKING:
    from mission_control.connectors import Connectors
    from mission_control.inventory import Inventory

__all__ = [
    "MISSING_BACKEND_SETTINGS",
    "ConnectorName",
    "InvalidToolArguments",
    "RiskLevel",
    "Tool",
    "ToolBackend",
    "ToolContext",
    "ToolOutcomeUnknown",
    "ToolOutput",
    "truncate_text",
]

#: What a tool needs to run: one of the connectors, or the merged inventory over them.
ToolBackend = ConnectorName | Literal["inventory"]


def _missing_backend_settings() -> dict[ToolBackend, str]:
    missing: dict[ToolBackend, str] = {
        "inventory": "configure at least one inventory source "
        "(KUBECONFIG, PROXMOX_HOST, ARGOCD_URL)"
    }
    for name, text in MISSING_SETTINGS.items():
        missing[name] = text
    return missing


#: What to set to enable each backend, for "tool unavailable" messages.
MISSING_BACKEND_SETTINGS: Mapping[ToolBackend, str] = _missing_backend_settings()


#: Default bound of the text handed to the model, in bytes of UTF-8, marker included (16 KiB;
#: see docs/architecture.md).
MODEL_OUTPUT_LIMIT = 16 * 1024
TRUNCATION_MARKER = "\n[... output truncated: {omitted} more bytes not shown ...]"
#: Bound of the raw result kept in the journal (1 MiB), in bytes of its JSON in UTF-8.
JOURNAL_OUTPUT_LIMIT = 1024 * 1024


class RiskLevel(enum.StrEnum):
    """How much a tool can change; fixed per tool in code, never taken from the model."""

    READ_ONLY = "READ_ONLY"
    SAFE_MUTATE = "SAFE_MUTATE"
    DESTRUCTIVE = "DESTRUCTIVE"

    @property
    def mutates(self) -> bool:
        return self is not RiskLevel.READ_ONLY


class InvalidToolArguments(PermanentError):
    """The model's arguments failed the tool's schema; the message names every bad field."""

    def __init__(self, tool: str, problems: list[str]) -> None:
        self.tool = tool
        self.problems = problems
        super().__init__(f"invalid arguments for {tool}: " + "; ".join(problems))


class ToolOutcomeUnknown(PermanentError):
    """A mutating call was stopped before it answered: it may or may not have taken effect.

    Permanent on purpose: repeating the call blindly could restart or reboot twice.
    """


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """What a tool call may use: the configured connectors, the inventory, the caller's identity."""

    connectors: Connectors
    #: The merged inventory over the connectors; None when no source is configured.
    inventory: Inventory | None = None
    #: Kubernetes user to impersonate (``system:serviceaccount:NS:NAME``), or None.
    impersonate: str | None = None


@dataclass(frozen=True, kw_only=True)
class ToolOutput:
    """A tool's result: compact text for the model, the raw result for the journal."""

    text: str
    raw: Any = None

    def for_model(self, limit: int = MODEL_OUTPUT_LIMIT) -> str:
        return truncate_text(self.text, limit=limit)

    def for_journal(self, limit: int = JOURNAL_OUTPUT_LIMIT) -> Any:
        """The raw result as a JSON value, unchanged when its JSON fits in ``limit``.

        A larger one becomes ``{"truncated": MARKER, "json": FIRST_CHARACTERS}``: the journal
        keeps the beginning and says visibly that the rest is gone.
        """
        encoded = json.dumps(self.raw, ensure_ascii=False, separators=(",", ":"), default=str)
        data = encoded.encode("utf-8")
        if len(data) <= limit:
            return json.loads(encoded)
        kept = _cut(data, limit)
        marker = TRUNCATION_MARKER.format(omitted=len(data) - len(kept)).strip()
        return {"truncated": marker, "json": kept.decode("utf-8")}


def truncate_text(text: str, *, limit: int) -> str:
    """``text`` if it fits in ``limit`` bytes of UTF-8; else its beginning and a visible marker
    saying how many bytes are gone, together at most ``limit`` bytes.

    A character is never cut in half. A limit too small for the marker keeps only the text.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    # The marker's own size depends on the count it shows: reserve room for the largest count.
    room = limit - len(TRUNCATION_MARKER.format(omitted=len(data)).encode("utf-8"))
    if room < 0:
        return _cut(data, limit).decode("utf-8")
    kept = _cut(data, room)
    return kept.decode("utf-8") + TRUNCATION_MARKER.format(omitted=len(data) - len(kept))


def _cut(data: bytes, limit: int) -> bytes:
    """The longest prefix of UTF-8 ``data`` within ``limit`` bytes that ends on a character."""
    end = max(limit, 0)
    # Step back over continuation bytes (0b10xxxxxx) to the start of the cut character.
    while 0 < end < len(data) and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end]


ArgsT = TypeVar("ArgsT", bound=BaseModel)


@dataclass(frozen=True, kw_only=True)
class Tool(Generic[ArgsT]):
    """One registered tool. Instances are immutable and shared by every run."""

    name: str
    description: str
    arguments: type[ArgsT]
    risk: RiskLevel
    #: The backend the tool needs (named ``connector`` like the column of the tool catalogue).
    connector: ToolBackend
    run: Callable[[ArgsT, ToolContext], Awaitable[ToolOutput]]
    timeout_seconds: float = 30.0
    #: For mutating tools: says what the call would do, without doing it (dry runs).
    preview: Callable[[ArgsT, ToolContext], Awaitable[str]] | None = None
    #: For Kubernetes tools: the namespace a call touches, so the policy can check it.
    target_namespace: Callable[[ArgsT], str | None] | None = None
    #: For mutating tools: what to check when a call's outcome is unknown (a timeout).
    outcome_check: str | None = None
    #: For tools whose arguments can widen what a call does: the risk of one call, never
    #: below ``risk`` (see :func:`~mission_control.tools.registry.call_risk`).
    risk_of_call: Callable[[ArgsT, ToolContext], Awaitable[RiskLevel]] | None = None

    def __post_init__(self) -> None:
        if self.risk.mutates and self.preview is None:
            raise ValueError(f"mutating tool {self.name} needs a preview for dry runs")

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as offered to every model (compact: see
        :mod:`~mission_control.tools.schema`). A copy the caller may change."""
        # Every model request offers the run's tools: building the schema each time cost
        # about 0.5 ms a tool, a copy of the one built once costs a few percent of that.
        return copy.deepcopy(self._schema)

    @functools.cached_property
    def _schema(self) -> dict[str, Any]:
        # cached_property writes the instance's __dict__ directly, which a frozen dataclass
        # allows; the arguments model never changes, so neither does its schema.
        return compact_schema(self.arguments.model_json_schema())

    def parse_arguments(self, raw: Mapping[str, Any] | str | None) -> ArgsT:
        """Validate the model's arguments before any I/O; raise :class:`InvalidToolArguments`."""
        if raw is None:
            raw = {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as exc:
                raise InvalidToolArguments(
                    self.name, [f"arguments are not valid JSON: {exc}"]
                ) from None
        if not isinstance(raw, Mapping):
            raise InvalidToolArguments(self.name, ["arguments must be a JSON object"])
        try:
            return self.arguments.model_validate(dict(raw))
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "(arguments)"
                problems.append(f"{where}: {error['msg']}")
            raise InvalidToolArguments(self.name, problems) from None
