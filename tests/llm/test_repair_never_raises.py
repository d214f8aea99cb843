"""Repair never raises: whatever the model writes, the answer comes back repaired or as it was.

Deep nesting exhausts Python's recursion limit inside the JSON decoder, and very long integers
exceed the digits ``int()`` converts; both used to escape from ``LLMClient.complete``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mission_control.llm import LLMResponse, ToolDefinition
from mission_control.llm.repair import MAX_REPAIR_CHARS, repair_tool_calls

TOOLS = [ToolDefinition(name="list_k8s_pods", description="List pods.")]


def answer(text: str) -> LLMResponse:
    return LLMResponse(provider="ollama", model="llama3.1", text=text)


def unchanged_or_calls(text: str) -> None:
    response = answer(text)
    repaired = repair_tool_calls(response, tools=TOOLS)
    assert repaired == response or all(call.repaired for call in repaired.tool_calls)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000 + "{",
        "{" * 5000,
        '{"a":' * 3000 + "1" + "}" * 3000,
        "[" * 50_000 + '{"name": "list_k8s_pods", "arguments": {}}',
        '{"name": "list_k8s_pods", "arguments": {"n": ' + "9" * 10_000 + "}}",
        '{"name": "list_k8s_pods", "arguments": "{\\"n\\": ' + "9" * 10_000 + '}"}',
        '{"name": "list_k8s_pods", "arguments": "' + "[" * 2000 + '"}',
    ],
    ids=[
        "1000-brackets",
        "5000-braces",
        "deep-object",
        "50k-brackets",
        "huge-int",
        "huge-int-str",
        "deep-args-str",
    ],
)
def test_text_the_decoder_cannot_read_is_no_repair(text: str) -> None:
    response = answer(text)
    assert repair_tool_calls(response, tools=TOOLS) == response


def test_an_answer_longer_than_the_bound_is_not_scanned() -> None:
    call = json.dumps({"name": "list_k8s_pods", "arguments": {}})
    response = answer(call + " " * MAX_REPAIR_CHARS)
    assert repair_tool_calls(response, tools=TOOLS) == response


def test_a_plain_call_is_still_repaired() -> None:
    call = json.dumps({"name": "list_k8s_pods", "arguments": {"namespace": "media"}})
    (repaired,) = repair_tool_calls(answer(call), tools=TOOLS).tool_calls
    assert repaired.arguments == {"namespace": "media"}


_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.text(alphabet=st.sampled_from('{}[]":,0123456789.eE-+ ntrulfase\\'), max_size=400))
def test_json_shaped_noise_never_raises(text: str) -> None:
    unchanged_or_calls(text)


@_FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    unchanged_or_calls("{" + text)


@_FUZZ
@given(depth=st.integers(min_value=0, max_value=4000), opener=st.sampled_from(["[", "{", '{"a":']))
def test_deep_nesting_never_raises(depth: int, opener: str) -> None:
    unchanged_or_calls(opener * depth + '{"name": "list_k8s_pods", "arguments": {}}')


@_FUZZ
@given(digits=st.integers(min_value=1, max_value=20_000), exponent=st.integers(-9999, 9999))
def test_huge_numbers_never_raise(digits: int, exponent: int) -> None:
    number = "7" * digits
    unchanged_or_calls(f'{{"name": "list_k8s_pods", "arguments": {{"n": {number}}}}}')
    unchanged_or_calls(f'{{"name": "list_k8s_pods", "arguments": {{"n": 1e{exponent}}}}}')


@_FUZZ
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=30,
    )
)
def test_arbitrary_json_values_never_raise(value: object) -> None:
    unchanged_or_calls(json.dumps({"name": "list_k8s_pods", "arguments": value}))
    unchanged_or_calls(json.dumps(value))
