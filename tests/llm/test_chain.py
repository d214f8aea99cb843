"""The fallback chain over the three providers' wire doubles, on an injected clock.

Outages fail over (a switched-off Ollama, a 429 storm on Gemini), a rejected request does not,
a tool-call exchange carries over to the next provider with calls and results still linked by
id (the doubles check it), and the chain goes back to its primary only after the cooldown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from mission_control.llm import (
    AssistantMessage,
    BadRequest,
    LLMClient,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    UserMessage,
)
from mission_control.llm.chain import (
    FallbackChain,
    ModelLink,
    Switch,
    continuation_problem,
    translate_for,
)
from mission_control.llm.models import ModelInfo
from mission_control.llm.providers.anthropic import AnthropicProvider
from mission_control.llm.providers.gemini import GeminiProvider
from mission_control.llm.providers.ollama import OllamaProvider
from mission_control.llm.ratelimit import RateLimiter
from mission_control.llm.retry import RetryPolicy
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.llm.conftest import FakeTime

PODS = ToolDefinition(
    name="list_k8s_pods",
    description="List pods.",
    parameters={"type": "object", "properties": {"namespace": {"type": "string"}}},
)
START = [SystemMessage(content="You diagnose."), UserMessage(content="Why is web-0 down?")]
RETRY = RetryPolicy(max_attempts=6, base_delay=1.0, multiplier=2.0, jitter=0.0)


@dataclass
class Links:
    ollama: ModelLink
    gemini: ModelLink
    anthropic: ModelLink
    clients: list[LLMClient]


@pytest.fixture
async def links(
    fake_ollama: FakeOllama,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
    fake_time: FakeTime,
) -> AsyncIterator[Links]:
    def client(adapter: OllamaProvider | GeminiProvider | AnthropicProvider) -> LLMClient:
        limiter = RateLimiter(
            name=adapter.name, requests_per_minute=0, clock=fake_time, sleep=fake_time.sleep
        )
        return LLMClient(
            adapter, limiter=limiter, retry=RETRY, clock=fake_time, sleep=fake_time.sleep
        )

    ollama = client(
        OllamaProvider(base_url=fake_ollama.url, model="llama3.1", timeout=5, stall_seconds=None)
    )
    gemini = client(
        GeminiProvider(
            api_key=fake_gemini.api_key,
            model="gemini-2.0-flash",
            timeout=5,
            base_url=fake_gemini.url,
        )
    )
    anthropic = client(
        AnthropicProvider(
            api_key=fake_anthropic.api_key,
            model="claude-sonnet-4-6",
            timeout=5,
            max_tokens=1024,
            base_url=fake_anthropic.url,
        )
    )
    yield Links(
        ollama=ModelLink(client=ollama, model="llama3.1"),
        gemini=ModelLink(client=gemini, model="gemini-2.0-flash"),
        anthropic=ModelLink(client=anthropic, model="claude-sonnet-4-6"),
        clients=[ollama, gemini, anthropic],
    )
    for each in (ollama, gemini, anthropic):
        await each.aclose()


async def test_a_switched_off_ollama_fails_over_to_gemini_and_says_why(
    links: Links, fake_ollama: FakeOllama, fake_gemini: FakeGemini, fake_time: FakeTime
) -> None:
    fake_ollama.go_down()
    fake_gemini.say("Answered by Gemini.")
    chain = FallbackChain(links=[links.ollama, links.gemini], clock=fake_time)
    switches: list[Switch] = []

    async def on_switch(switch: Switch) -> None:
        switches.append(switch)

    answer = await chain.complete(
        messages=START, tools=[PODS], deadline=fake_time() + 300, on_switch=on_switch
    )

    assert (answer.provider, answer.text) == ("gemini", "Answered by Gemini.")
    [switch] = switches
    assert (switch.source.label, switch.target.label, switch.reason) == (
        "ollama/llama3.1",
        "gemini/gemini-2.0-flash",
        "Unavailable",
    )
    assert "cannot connect" in switch.error
    assert chain.active == 1


async def test_a_rejected_request_does_not_fail_over(
    links: Links, fake_gemini: FakeGemini, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    fake_gemini.fail(fake_gemini.invalid_argument("* GenerateContentRequest.contents: bad"))
    chain = FallbackChain(links=[links.gemini, links.anthropic], clock=fake_time)

    with pytest.raises(BadRequest):
        await chain.complete(messages=START, tools=[PODS], deadline=fake_time() + 300)

    assert fake_anthropic.sent == []
    assert chain.active == 0


async def test_a_429_storm_on_gemini_fails_over_to_anthropic_within_the_deadline(
    links: Links, fake_gemini: FakeGemini, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    fake_gemini.rate_limit_storm("4s")
    fake_anthropic.say("Answered by Claude.")
    chain = FallbackChain(links=[links.gemini, links.anthropic], clock=fake_time)
    started = fake_time()
    deadline = started + 20

    answer = await chain.complete(messages=START, tools=[PODS], deadline=deadline)

    assert (answer.provider, answer.text) == ("anthropic", "Answered by Claude.")
    # Gemini was retried within its share (half of the 20 s), not until the step's deadline.
    assert len(fake_gemini.generations) == 3  # at 0 s, 4 s, 8 s; a wait to 12 s would overrun
    assert fake_time() - started == 8
    assert len(fake_anthropic.sent) == 1


async def test_a_tool_call_exchange_continues_on_the_next_provider_linked_by_id(
    links: Links, fake_gemini: FakeGemini, fake_anthropic: FakeAnthropic, fake_time: FakeTime
) -> None:
    fake_gemini.call(("list_k8s_pods", {"namespace": "media"}))
    fake_anthropic.say("web-0 is Pending.")
    chain = FallbackChain(links=[links.gemini, links.anthropic], clock=fake_time)
    first = await chain.complete(messages=START, tools=[PODS], deadline=fake_time() + 300)
    [call] = first.tool_calls
    assert call.signature is not None  # Gemini signed it
    conversation = [
        *START,
        first.to_message(),
        ToolResultMessage(tool_call_id=call.id, name=call.name, content="web-0 Pending"),
    ]
    fake_gemini.rate_limit_storm("120s")

    second = await chain.complete(messages=conversation, tools=[PODS], deadline=fake_time() + 300)

    assert (second.provider, second.text) == ("anthropic", "web-0 is Pending.")
    [sent] = fake_anthropic.sent  # the double refuses results that answer no tool_use
    use = sent["messages"][1]["content"][0]
    result = sent["messages"][2]["content"][0]
    assert (use["type"], use["id"], use["name"]) == ("tool_use", call.id, "list_k8s_pods")
    assert (result["type"], result["tool_use_id"]) == ("tool_result", call.id)
    assert "signature" not in str(sent)


async def test_the_chain_goes_back_to_its_primary_only_after_the_cooldown(
    links: Links, fake_ollama: FakeOllama, fake_gemini: FakeGemini, fake_time: FakeTime
) -> None:
    chain = FallbackChain(links=[links.ollama, links.gemini], cooldown_seconds=300, clock=fake_time)
    fake_ollama.go_down()
    await chain.complete(messages=START, deadline=fake_time() + 300)
    fake_ollama.come_back()

    fake_time.now += 100  # within the cooldown: the fallback answers, Ollama is not asked
    during = await chain.complete(messages=START, deadline=fake_time() + 300)
    fake_time.now += 200  # the cooldown has passed: the primary again
    after = await chain.complete(messages=START, deadline=fake_time() + 300)

    assert (during.provider, after.provider) == ("gemini", "ollama")
    assert len(fake_ollama.chats) == 1
    assert len(fake_gemini.generations) == 2
    assert chain.active == 0


def test_translation_renames_ids_another_provider_cannot_take_in_calls_and_results() -> None:
    call = ToolCall(id="call 1/x", name="list_k8s_pods", signature="c2ln")
    conversation = [
        *START,
        AssistantMessage(tool_calls=(call,)),
        ToolResultMessage(tool_call_id="call 1/x", name="list_k8s_pods", content="none"),
    ]

    for_claude = translate_for(conversation, provider="anthropic")
    for_gemini = translate_for(conversation, provider="gemini")

    assistant, result = for_claude[2], for_claude[3]
    assert isinstance(assistant, AssistantMessage)
    assert isinstance(result, ToolResultMessage)
    [renamed] = assistant.tool_calls
    assert renamed.id == result.tool_call_id != "call 1/x"
    assert renamed.signature is None
    gemini_call = for_gemini[2]
    assert isinstance(gemini_call, AssistantMessage)
    assert gemini_call.tool_calls[0].signature == "c2ln"


def test_a_model_needing_its_own_signatures_cannot_continue_another_models_calls(
    links: Links,
) -> None:
    strict = ModelLink(
        client=links.gemini.client,
        model="gemini-3-pro-preview",
        info=ModelInfo(provider="gemini", model="gemini-3-pro-preview", thought_signatures=True),
    )
    unsigned = [*START, AssistantMessage(tool_calls=(ToolCall(id="c1", name="list_k8s_pods"),))]

    assert continuation_problem(START, strict) is None
    assert "thought signatures" in (continuation_problem(unsigned, strict) or "")
    assert continuation_problem(unsigned, links.anthropic) is None


def test_a_step_starts_past_a_primary_that_cannot_continue_another_models_calls(
    links: Links, fake_time: FakeTime
) -> None:
    strict = ModelLink(
        client=links.gemini.client,
        model="gemini-3-pro-preview",
        info=ModelInfo(provider="gemini", model="gemini-3-pro-preview", thought_signatures=True),
    )
    # A new chain, as after a restart: the calls of this turn were made by the fallback.
    chain = FallbackChain(links=[strict, links.anthropic], clock=fake_time)
    unsigned = [*START, AssistantMessage(tool_calls=(ToolCall(id="c1", name="list_k8s_pods"),))]

    assert chain.begin_step(messages=START) == 0
    assert chain.begin_step(messages=unsigned) == 1
