"""A fallback chain: the primary model, then others tried in order when a provider is out.

What fails over (:func:`failover_reason`): a rate limit that stays exhausted within the
link's share of the deadline, a provider that cannot be reached or answers with a server
error, a timeout, an unreadable answer, a model that is not there (not pulled). What never
does: a rejected request (:class:`~mission_control.llm.errors.BadRequest`: another model
would get the same input), a refused credential (a configuration error to fix, not to paper
over with another provider's bill).

Each link but the last gets an equal share of the time left (:meth:`FallbackChain.deadline_for`),
so retries on a rate-limited primary cannot use up the whole step before the fallback is
tried. The conversation so far is carried over in the neutral types and adjusted for the next
provider (:func:`translate_for`): Gemini thought signatures are dropped for other providers,
tool call ids another provider cannot take are renamed consistently in calls and results.
A model that must see its own thought signatures on the current turn's calls (Gemini 3)
cannot continue a tool-call exchange another model started; the chain skips it
(:func:`continuation_problem`), as a fallback and as the link a step starts with. After a
switch the chain stays on the model that answered, and goes back to the primary on the first
step after ``cooldown_seconds``, not on every request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from mission_control.llm.errors import (
    BadResponse,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from mission_control.llm.messages import (
    AssistantMessage,
    LLMResponse,
    Message,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from mission_control.llm.models import ModelInfo
from mission_control.llm.provider import ChatProvider

__all__ = [
    "DEFAULT_COOLDOWN_SECONDS",
    "FallbackChain",
    "ModelLink",
    "Switch",
    "continuation_problem",
    "failover_reason",
    "translate_for",
]

#: How long a chain stays on a fallback before it tries the primary again, in seconds.
DEFAULT_COOLDOWN_SECONDS = 300.0
#: Tool call ids every provider accepts (Anthropic's rule is the narrowest).
_PORTABLE_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def failover_reason(error: ProviderError) -> str | None:
    """Why ``error`` is an outage another model may not have, or None when it is not one."""
    if isinstance(error, RateLimited):
        return "RateLimited"
    if isinstance(error, ProviderUnavailable):
        return "Unavailable"
    if isinstance(error, ProviderTimeout):
        return "Timeout"
    if isinstance(error, BadResponse):
        return "BadResponse"
    if isinstance(error, ModelNotFound):
        return "ModelNotFound"
    return None


@dataclass(frozen=True, kw_only=True)
class ModelLink:
    """One model of the chain, with what is known of it (``info``, from the catalog)."""

    client: ChatProvider
    model: str
    info: ModelInfo | None = None

    @property
    def provider(self) -> str:
        return self.client.name

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, kw_only=True)
class Switch:
    """A failover: from one link to the next, why, and the links skipped on the way."""

    index: int
    source: ModelLink
    target: ModelLink
    reason: str
    error: str
    skipped: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"{self.source.label} failed ({self.reason}: {self.error}); switched to "
        text += self.target.label
        if self.skipped:
            text += f" (skipped: {'; '.join(self.skipped)})"
        return text


def _unsigned_calls_this_turn(messages: Sequence[Message]) -> bool:
    """Whether a tool call after the last user message has no thought signature."""
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            return False
        if isinstance(message, AssistantMessage) and any(
            call.signature is None for call in message.tool_calls
        ):
            return True
    return False


def continuation_problem(messages: Sequence[Message], link: ModelLink) -> str | None:
    """Why ``link`` cannot continue this conversation, or None."""
    if (
        link.info is not None
        and link.info.thought_signatures
        and _unsigned_calls_this_turn(messages)
    ):
        return (
            f"{link.label} needs its own thought signatures on this turn's tool calls, "
            "which another model made"
        )
    return None


def translate_for(messages: Sequence[Message], *, provider: str) -> list[Message]:
    """The conversation in a shape ``provider`` accepts (see the module docstring)."""
    renamed: dict[str, str] = {}
    out: list[Message] = []
    for message in messages:
        if isinstance(message, AssistantMessage) and message.tool_calls:
            calls: list[ToolCall] = []
            for number, call in enumerate(message.tool_calls):
                update: dict[str, object] = {}
                if provider != "gemini" and call.signature is not None:
                    update["signature"] = None  # only Gemini reads it
                if not _PORTABLE_ID.fullmatch(call.id):
                    new_id = renamed.setdefault(call.id, f"call_{len(renamed)}_{number}")
                    update["id"] = new_id
                calls.append(call.model_copy(update=update) if update else call)
            out.append(message.model_copy(update={"tool_calls": tuple(calls)}))
        elif isinstance(message, ToolResultMessage) and message.tool_call_id in renamed:
            out.append(message.model_copy(update={"tool_call_id": renamed[message.tool_call_id]}))
        else:
            out.append(message)
    return out


@dataclass
class FallbackChain:
    """One run's chain of models and where it stands (which link answers now, since when)."""

    links: Sequence[ModelLink]
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS
    clock: Callable[[], float] = time.monotonic
    #: The link that answered last, and when the chain switched to it.
    active: int = 0
    switched_at: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not self.links:
            raise ValueError("a chain needs at least one model")

    @property
    def primary(self) -> ModelLink:
        return self.links[0]

    def begin_step(self, *, messages: Sequence[Message]) -> int:
        """The link a step starts with: the active one, or the primary after the cooldown.

        A link that cannot continue ``messages`` is passed over for the next one that can: a
        primary tried again after the cooldown, or after a restart (where the chain stands is
        not kept), would refuse calls another model made this turn, and a refusal is final.
        """
        if self.active and self.clock() - self.switched_at >= self.cooldown_seconds:
            self.active = 0
        for index in range(self.active, len(self.links)):
            if continuation_problem(messages, self.links[index]) is None:
                return index
        return self.active

    def deadline_for(self, index: int, deadline: float | None) -> float | None:
        """The link's share of the time left: equal shares, the last link gets the rest."""
        left_links = len(self.links) - index
        if deadline is None or left_links <= 1:
            return deadline
        now = self.clock()
        return now + max(deadline - now, 0.0) / left_links

    def failover(
        self, *, index: int, error: ProviderError, messages: Sequence[Message]
    ) -> Switch | None:
        """The next link to try after link ``index`` failed with ``error``; None: give up."""
        reason = failover_reason(error)
        if reason is None:
            return None
        skipped: list[str] = []
        for candidate in range(index + 1, len(self.links)):
            problem = continuation_problem(messages, self.links[candidate])
            if problem is None:
                return Switch(
                    index=candidate,
                    source=self.links[index],
                    target=self.links[candidate],
                    reason=reason,
                    error=str(error),
                    skipped=tuple(skipped),
                )
            skipped.append(problem)
        return None

    def answered(self, index: int) -> None:
        """Link ``index`` answered: the chain stays there until the cooldown passes."""
        if index != self.active:
            self.active = index
            self.switched_at = self.clock()

    async def complete(
        self,
        *,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] = (),
        deadline: float | None = None,
        on_switch: Callable[[Switch], Awaitable[None]] | None = None,
    ) -> LLMResponse:
        """One answer from the first link that gives one (the run loop records each attempt
        itself and follows the same steps: :meth:`begin_step`, :meth:`failover`...)."""
        index = self.begin_step(messages=messages)
        while True:
            link = self.links[index]
            try:
                response = await link.client.complete(
                    messages=translate_for(messages, provider=link.provider),
                    tools=tools,
                    model=link.model,
                    deadline=self.deadline_for(index, deadline),
                )
            except ProviderError as exc:
                switch = self.failover(index=index, error=exc, messages=messages)
                if switch is None:
                    raise
                if on_switch is not None:
                    await on_switch(switch)
                index = switch.index
                continue
            self.answered(index)
            return response
