"""Neutral conversation types shared by every provider adapter and the run loop.

A conversation is a list of messages: system, user, assistant (text and tool calls) and tool
results. Tools are offered as :class:`ToolDefinition` (a JSON schema of their arguments).
A provider answers with an :class:`LLMResponse`. Everything here is a frozen pydantic model,
so the journal can store a conversation as JSON and rebuild it after a restart
(:func:`dump_messages`, :func:`load_messages`). Pure: no I/O happens here.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, computed_field, field_validator

__all__ = [
    "AssistantMessage",
    "FinishReason",
    "LLMResponse",
    "Message",
    "SystemMessage",
    "ToolCall",
    "ToolDefinition",
    "ToolResultMessage",
    "Usage",
    "UserMessage",
    "dump_messages",
    "load_messages",
    "new_tool_call_id",
]

#: Tool names every provider accepts (the intersection of their rules).
TOOL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def new_tool_call_id() -> str:
    """An id for a tool call whose provider gave none (Ollama, some Gemini models)."""
    return f"call_{uuid.uuid4().hex[:24]}"


class ToolCall(_Frozen):
    """One call of a tool the model asked for."""

    id: str = Field(min_length=1, description="Ties the call to its ToolResultMessage.")
    name: str = Field(description="The tool's name, as the model wrote it (may be unknown).")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Decoded JSON arguments.")
    repaired: bool = Field(
        default=False, description="Recovered from JSON the model wrote as text (llm.repair)."
    )
    arguments_error: str | None = Field(
        default=None,
        description="Why the model's arguments could not be read as a JSON object (invalid "
        "JSON, or not an object); ``arguments`` is then empty. The run loop answers such a call "
        "with a tool error instead of running it.",
    )
    signature: str | None = Field(
        default=None,
        description="Opaque token the provider wants back with this call (Gemini thought "
        "signature, base64).",
    )


class SystemMessage(_Frozen):
    """Instructions for the model; adapters merge several into the provider's system slot."""

    role: Literal["system"] = "system"
    content: str


class UserMessage(_Frozen):
    """What the user (or the run loop on the user's behalf) says."""

    role: Literal["user"] = "user"
    content: str


class AssistantMessage(_Frozen):
    """A previous answer of the model: text, tool calls, or both."""

    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class ToolResultMessage(_Frozen):
    """The outcome of one tool call, sent back to the model."""

    role: Literal["tool"] = "tool"
    tool_call_id: str = Field(min_length=1, description="The id of the ToolCall answered.")
    name: str = Field(description="The tool's name (Gemini and Ollama tie results by name).")
    content: str
    is_error: bool = Field(default=False, description="The call failed, was denied or rejected.")


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolResultMessage,
    Field(discriminator="role"),
]

_MESSAGES: TypeAdapter[list[Message]] = TypeAdapter(list[Message])


def dump_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """JSON-ready form of a conversation (for the journal)."""
    dumped: list[dict[str, Any]] = _MESSAGES.dump_python(list(messages), mode="json")
    return dumped


def load_messages(data: Any) -> list[Message]:
    """Rebuild a conversation from :func:`dump_messages` output."""
    return _MESSAGES.validate_python(data)


class ToolDefinition(_Frozen):
    """A tool as offered to the model: its name, description and arguments' JSON schema."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments object (e.g. a pydantic model's schema).",
    )

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('the arguments schema must have "type": "object"')
        return value


class Usage(_Frozen):
    """Tokens of one request. Prompt includes cached input; completion includes thinking."""

    # total_tokens is derived: accepted back from JSON (journal round trips) and recomputed
    model_config = ConfigDict(frozen=True, extra="ignore")
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class FinishReason(enum.StrEnum):
    """Why the model stopped, in the same words for every provider."""

    STOP = "stop"  # a final answer
    TOOL_CALLS = "tool_calls"  # it wants tools called
    LENGTH = "length"  # output or context limit reached
    CONTENT_FILTER = "content_filter"  # refused or blocked by safety filters
    MALFORMED_TOOL_CALL = "malformed_tool_call"  # it tried to call a tool and botched it
    OTHER = "other"


class LLMResponse(_Frozen):
    """One answer of a provider, with what the journal needs to record it."""

    provider: str
    model: str = Field(description="The model that answered (as the provider reports it).")
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = FinishReason.STOP
    latency_seconds: float = Field(default=0.0, ge=0.0)
    raw: dict[str, Any] = Field(
        default_factory=dict, description="The provider's payload, as JSON."
    )

    def to_message(self) -> AssistantMessage:
        """The answer as the next assistant turn of the conversation."""
        return AssistantMessage(content=self.text, tool_calls=self.tool_calls)
