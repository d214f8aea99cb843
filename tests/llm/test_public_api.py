"""The package's public surface is what ``__all__`` says, and all of it exists."""

from __future__ import annotations

import mission_control.llm as llm


def test_every_public_name_exists() -> None:
    missing = [name for name in llm.__all__ if not hasattr(llm, name)]

    assert missing == []


def test_the_run_loop_s_entry_points_are_public() -> None:
    assert {"build_providers", "LLMClient", "LLMResponse", "ProviderError", "PriceTable"} <= set(
        llm.__all__
    )
