"""Rebuilding a run's conversation from its journal, for resuming after a restart.

Convention with the run loop: an event that adds to the conversation carries the messages it
added as a list under ``payload["messages"]`` (neutral message objects: system, user,
assistant with tool calls, tool results). The conversation is those lists concatenated in
``seq`` order; events without the key add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from mission_control.store.records import Conversation, JournalEvent, JsonObject, ToolCallRecord

__all__ = ["MESSAGES_KEY", "build_conversation"]

MESSAGES_KEY = "messages"


def build_conversation(
    *, run_uid: str, events: Sequence[JournalEvent], open_calls: Sequence[ToolCallRecord]
) -> Conversation:
    """Pure: the conversation the events describe, plus the calls still open."""
    messages: list[JsonObject] = []
    last_seq = 0
    for event in events:
        last_seq = max(last_seq, event.seq)
        added = event.payload.get(MESSAGES_KEY)
        if isinstance(added, list):
            messages.extend(message for message in added if isinstance(message, dict))
    return Conversation(
        run_uid=run_uid,
        messages=tuple(messages),
        last_seq=last_seq,
        open_tool_calls=tuple(open_calls),
    )
