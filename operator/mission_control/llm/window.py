"""Keeping a conversation within a model's context window.

Before each request the conversation's size is estimated (about four characters a token, plus
a little per message, plus the tool definitions: no tokenizer is at hand for every provider,
and the estimate errs on the large side for English and JSON). When it would not leave
``reserve`` tokens for the answer, the oldest tool outputs are shortened first — their head is
kept, followed by :data:`SHORTENED_MARKER`, a line the model reads and that says how much was
cut — until the estimate fits. System, user and assistant messages are never cut: when the
conversation still does not fit, it is sent as it is and the provider decides. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from mission_control.llm.messages import Message, ToolDefinition, ToolResultMessage

__all__ = ["SHORTENED_MARKER", "Fitted", "estimate_tokens", "fit_window"]

CHARS_PER_TOKEN = 4
_PER_MESSAGE = 8
#: Characters of a shortened output that are kept before the marker.
KEEP_CHARS = 200
SHORTENED_MARKER = (
    "\n[shortened to fit the model's context window: {removed} of {total} characters of this "
    "tool output were removed; call the tool again with narrower arguments if you need them]"
)


def estimate_tokens(messages: Sequence[Message], tools: Sequence[ToolDefinition] = ()) -> int:
    """A generous estimate of the tokens ``messages`` and ``tools`` take in a prompt."""
    chars = 0
    for message in messages:
        chars += len(message.content)
        if message.role == "assistant":
            chars += sum(
                len(json.dumps(call.arguments)) + len(call.name) for call in message.tool_calls
            )
    chars += sum(len(tool.model_dump_json()) for tool in tools)
    return chars // CHARS_PER_TOKEN + _PER_MESSAGE * len(messages)


@dataclass(frozen=True, kw_only=True)
class Fitted:
    """The conversation to send; ``shortened`` tool outputs were cut (0: sent as it was)."""

    messages: list[Message]
    shortened: int
    estimate: int


def fit_window(
    messages: Sequence[Message],
    *,
    tools: Sequence[ToolDefinition],
    window: int | None,
    reserve: int,
) -> Fitted:
    """``messages`` with the oldest tool outputs shortened until they fit ``window - reserve``."""
    fitted = list(messages)
    estimate = estimate_tokens(fitted, tools)
    if window is None:
        return Fitted(messages=fitted, shortened=0, estimate=estimate)
    budget = max(window - reserve, 0)
    shortened = 0
    for index, message in enumerate(fitted):
        if estimate <= budget:
            break
        if not isinstance(message, ToolResultMessage) or len(message.content) <= KEEP_CHARS:
            continue
        excess = (estimate - budget) * CHARS_PER_TOKEN
        total = len(message.content)
        keep = max(KEEP_CHARS, total - excess - len(SHORTENED_MARKER) - 20)
        if keep >= total:
            continue
        marker = SHORTENED_MARKER.format(removed=total - keep, total=total)
        fitted[index] = message.model_copy(update={"content": message.content[:keep] + marker})
        shortened += 1
        estimate = estimate_tokens(fitted, tools)
    return Fitted(messages=fitted, shortened=shortened, estimate=estimate)
