"""Providers built from the settings: configured ones work, the others say what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mission_control.llm import ProviderNotConfigured, Providers, UserMessage, build_providers
from mission_control.settings import load_settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama


@pytest.fixture
async def providers(fake_llm_environ: dict[str, str]) -> AsyncIterator[Providers]:
    built = build_providers(load_settings({**fake_llm_environ, "MC_DEFAULT_PROVIDER": "gemini"}))
    yield built
    await built.aclose()


async def test_every_configured_provider_answers(
    providers: Providers,
    fake_ollama: FakeOllama,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_ollama.say("from ollama")
    fake_gemini.say("from gemini")
    fake_anthropic.say("from anthropic")

    answers = [
        (await providers.get(name).complete(messages=[UserMessage(content="hi")])).text
        for name in ("ollama", "gemini", "anthropic")
    ]

    assert answers == ["from ollama", "from gemini", "from anthropic"]


async def test_the_default_provider_comes_from_the_settings(
    providers: Providers, fake_gemini: FakeGemini
) -> None:
    response = await providers.get().complete(messages=[UserMessage(content="hi")])

    assert response.provider == "gemini"


async def test_an_unconfigured_provider_names_the_variable_to_set() -> None:
    providers = build_providers(load_settings({}))

    with pytest.raises(ProviderNotConfigured, match="set OLLAMA_BASE_URL"):
        providers.get()
    with pytest.raises(ProviderNotConfigured, match="set GEMINI_API_KEY"):
        providers.get("gemini")


async def test_health_covers_every_provider_without_contacting_unconfigured_ones(
    fake_ollama: FakeOllama,
) -> None:
    providers = build_providers(load_settings({"OLLAMA_BASE_URL": fake_ollama.url}))
    try:
        health = await providers.check()
    finally:
        await providers.aclose()

    assert health["ollama"].reachable
    assert not health["gemini"].configured
    assert not health["anthropic"].configured
    assert "ANTHROPIC_API_KEY" in health["anthropic"].message
    assert len(fake_ollama.requests) == 1


async def test_provider_settings_reach_the_wire(
    fake_llm_environ: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    environ = {
        **fake_llm_environ,
        "ANTHROPIC_MAX_TOKENS": "2048",
        "ANTHROPIC_TIMEOUT_SECONDS": "30",
    }
    providers = build_providers(load_settings(environ))
    try:
        await providers.get("anthropic").complete(messages=[UserMessage(content="hi")])
    finally:
        await providers.aclose()

    (request,) = fake_anthropic.requests_to("POST", "/v1/messages")
    assert request.json()["max_tokens"] == 2048
    assert request.headers["x-stainless-read-timeout"] == "30.0"


@pytest.mark.parametrize(("stall_seconds", "streamed"), [("120", True), ("0", False)])
async def test_ollama_streams_unless_the_stall_limit_is_zero(
    fake_llm_environ: dict[str, str], fake_ollama: FakeOllama, stall_seconds: str, streamed: bool
) -> None:
    settings = load_settings({**fake_llm_environ, "OLLAMA_STALL_SECONDS": stall_seconds})
    providers = build_providers(settings)
    try:
        await providers.get("ollama").complete(messages=[UserMessage(content="hi")])
    finally:
        await providers.aclose()

    assert fake_ollama.chats[0]["stream"] is streamed


def test_the_sdks_of_unconfigured_providers_are_never_imported() -> None:
    # A fresh interpreter: this test process has imported every SDK already. Together they
    # would hold some 55 MiB of an operator that uses only Ollama.
    script = (
        "import sys\n"
        "from mission_control.llm import build_providers\n"
        "from mission_control.settings import load_settings\n"
        "build_providers(load_settings({'OLLAMA_BASE_URL': 'http://127.0.0.1:9'}))\n"
        "print(sorted(m for m in ('anthropic', 'google.genai', 'ollama') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "operator"), str(root)])}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[-2] == "['ollama']"
