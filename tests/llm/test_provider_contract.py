"""What every provider adapter does alike, each against the fake of its own wire format.

A behaviour shared by all providers is checked here once per provider; each provider's own
test module keeps only what is specific to it (its wire format, its error shapes, its quirks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from mission_control.llm import (
    ChatProvider,
    FinishReason,
    ModelNotFound,
    ProviderUnavailable,
    UserMessage,
)
from mission_control.llm.providers.anthropic import AnthropicProvider
from mission_control.llm.providers.gemini import GeminiProvider
from mission_control.llm.providers.ollama import OllamaProvider
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama


@dataclass(frozen=True, kw_only=True)
class Case:
    """One provider against its fake, with the few fake calls the contract needs."""

    provider: ChatProvider
    name: str
    model: str
    #: Queue a final answer with these token counts.
    say: Callable[[str, int, int], None]
    #: Make the next request fail as the service does when it is overloaded.
    overload: Callable[[], None]


def _ollama(fake: FakeOllama) -> Case:
    return Case(
        provider=OllamaProvider(base_url=fake.url, model="llama3.1", timeout=5),
        name="ollama",
        model="llama3.1",
        say=lambda text, prompt, completion: fake.say(
            text, prompt_tokens=prompt, completion_tokens=completion
        ),
        overload=lambda: fake.fail(503, "server busy, please try again"),
    )


def _gemini(fake: FakeGemini) -> Case:
    return Case(
        provider=GeminiProvider(
            api_key=fake.api_key, model="gemini-2.0-flash", timeout=5, base_url=fake.url
        ),
        name="gemini",
        model="gemini-2.0-flash",
        say=lambda text, prompt, completion: fake.say(
            text, prompt_tokens=prompt, completion_tokens=completion
        ),
        overload=lambda: fake.fail(fake.error(503, "The model is overloaded.")),
    )


def _anthropic(fake: FakeAnthropic) -> Case:
    return Case(
        provider=AnthropicProvider(
            api_key=fake.api_key,
            model="claude-sonnet-4-6",
            timeout=5,
            max_tokens=1024,
            base_url=fake.url,
        ),
        name="anthropic",
        model="claude-sonnet-4-6",
        say=lambda text, prompt, completion: fake.say(
            text, input_tokens=prompt, output_tokens=completion
        ),
        overload=lambda: fake.fail(fake.error(529, "overloaded_error", "Overloaded")),
    )


@pytest.fixture(params=["ollama", "gemini", "anthropic"])
async def case(request: pytest.FixtureRequest) -> AsyncIterator[Case]:
    build = {"ollama": _ollama, "gemini": _gemini, "anthropic": _anthropic}[request.param]
    built = build(request.getfixturevalue(f"fake_{request.param}"))
    yield built
    await built.provider.aclose()


async def test_a_final_answer_comes_back_with_its_usage_provider_and_model(case: Case) -> None:
    case.say("All pods are healthy.", 120, 9)

    response = await case.provider.complete(messages=[UserMessage(content="How are the pods?")])

    assert response.text == "All pods are healthy."
    assert response.tool_calls == ()
    assert response.finish_reason is FinishReason.STOP
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (120, 9)
    assert (response.provider, response.model) == (case.name, case.model)


async def test_an_overloaded_service_is_temporary(case: Case) -> None:
    case.overload()

    with pytest.raises(ProviderUnavailable):
        await case.provider.complete(messages=[UserMessage(content="hi")])


async def test_an_unknown_model_is_not_found_and_named(case: Case) -> None:
    with pytest.raises(ModelNotFound, match="no-such-model"):
        await case.provider.complete(messages=[UserMessage(content="hi")], model="no-such-model")
