"""The package's public surface is what ``__all__`` says, and all of it exists."""

from __future__ import annotations

import mission_control.runs as runs


def test_every_public_name_exists() -> None:
    missing = [name for name in runs.__all__ if not hasattr(runs, name)]

    assert missing == []


def test_the_handlers_entry_points_are_public() -> None:
    assert {
        "decide",
        "evaluate",
        "args_digest",
        "substitute",
        "check",
        "effective",
        "succeeded_condition",
        "build_status_patch",
        "transition_event",
        "system_prompt",
    } <= set(runs.__all__)
