"""Output bounds count bytes of UTF-8, and the result, marker included, fits the bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mission_control.tools.base import (
    JOURNAL_OUTPUT_LIMIT,
    MODEL_OUTPUT_LIMIT,
    ToolOutput,
    truncate_text,
)


def size(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize("character", ["a", "é", "€", "𝄞", "日"])  # 1, 2, 3, 4 and 3 bytes
def test_multibyte_text_is_cut_to_the_byte_limit_with_the_marker_inside(character: str) -> None:
    text = character * 10_000
    cut = truncate_text(text, limit=1000)
    assert size(cut) <= 1000
    kept, _, marker = cut.partition("\n[... output truncated: ")
    assert set(kept) == {character}  # no character cut in half
    omitted = size(text) - size(kept)
    assert marker == f"{omitted} more bytes not shown ...]"
    assert size(cut) > 1000 - len(character.encode()) - 10  # and the room is used


def test_the_model_gets_at_most_16_kib_of_multibyte_text() -> None:
    output = ToolOutput(text="Ünïcödé lög lïnë\n" * 5000)
    assert size(output.for_model()) <= MODEL_OUTPUT_LIMIT


def test_text_within_the_limit_is_unchanged() -> None:
    assert truncate_text("€" * 333, limit=999) == "€" * 333


def test_a_limit_smaller_than_the_marker_keeps_whole_characters_only() -> None:
    cut = truncate_text("€" * 100, limit=10)
    assert cut == "€" * 3


@given(text=st.text(max_size=300), limit=st.integers(min_value=0, max_value=400))
def test_any_text_fits_any_limit(text: str, limit: int) -> None:
    cut = truncate_text(text, limit=limit)
    assert size(cut) <= limit
    assert (cut == text) == (size(text) <= limit)


def test_the_journal_bound_counts_bytes_too() -> None:
    raw = {"log": "日本語" * 200_000}  # 1.8 MB of UTF-8, 600 000 characters
    kept = ToolOutput(text="", raw=raw).for_journal()
    assert size(kept["json"]) <= JOURNAL_OUTPUT_LIMIT
    assert kept["json"].startswith('{"log":"日本語')
