"""Building the configured providers from :class:`~mission_control.settings.Settings`.

A provider is configured when its settings are: ``OLLAMA_BASE_URL`` for Ollama,
``GEMINI_API_KEY`` for Gemini, ``ANTHROPIC_API_KEY`` for Anthropic. :func:`build_providers`
is called once at start-up; the :class:`Providers` it returns (and so each provider's rate
limiter) is shared by every run in the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mission_control.errors import ConfigError
from mission_control.llm.catalog import Describe, ModelCatalog
from mission_control.llm.client import Attempt, LLMClient
from mission_control.llm.errors import ProviderNotConfigured
from mission_control.llm.models import load_model_table
from mission_control.llm.provider import ChatProvider, ProviderHealth
from mission_control.llm.providers.ollama import OllamaProvider
from mission_control.llm.ratelimit import RateLimiter
from mission_control.llm.retry import RetryPolicy
from mission_control.settings import (
    AnthropicSettings,
    GeminiSettings,
    OllamaSettings,
    Provider,
    Settings,
)

__all__ = ["PROVIDER_NAMES", "Providers", "build_adapter", "build_catalog", "build_providers"]

PROVIDER_NAMES: tuple[Provider, ...] = ("ollama", "gemini", "anthropic")
#: The variable whose absence leaves each provider unconfigured.
REQUIRED_SETTING: Mapping[Provider, str] = {
    "ollama": "OLLAMA_BASE_URL",
    "gemini": "GEMINI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}


def build_adapter(settings: Settings, provider: Provider) -> ChatProvider | None:
    """The adapter of ``provider``, or None when its settings are missing."""
    if provider == "ollama":
        ollama = settings.ollama
        if ollama.base_url is None:
            return None
        return OllamaProvider(
            base_url=ollama.base_url.get_secret_value(),
            model=ollama.model,
            timeout=ollama.timeout_seconds,
            num_ctx=ollama.num_ctx,
            stall_seconds=ollama.stall_seconds or None,
        )
    # The Gemini and Anthropic SDKs are imported only for a configured provider: together
    # they hold some 60 MiB of the process's memory once imported (Ollama's client is small).
    if provider == "gemini":
        gemini = settings.gemini
        if gemini.api_key is None:
            return None
        from mission_control.llm.providers.gemini import GeminiProvider

        return GeminiProvider(
            api_key=gemini.api_key.get_secret_value(),
            model=gemini.model,
            timeout=gemini.timeout_seconds,
            base_url=gemini.base_url.get_secret_value() if gemini.base_url else None,
        )
    claude = settings.anthropic
    if claude.api_key is None:
        return None
    from mission_control.llm.providers.anthropic import AnthropicProvider

    return AnthropicProvider(
        api_key=claude.api_key.get_secret_value(),
        model=claude.model,
        timeout=claude.timeout_seconds,
        max_tokens=claude.max_tokens,
        base_url=claude.base_url.get_secret_value() if claude.base_url else None,
    )


def _requests_per_minute(settings: Settings, provider: Provider) -> int:
    sections: dict[Provider, OllamaSettings | GeminiSettings | AnthropicSettings] = {
        "ollama": settings.ollama,
        "gemini": settings.gemini,
        "anthropic": settings.anthropic,
    }
    return sections[provider].requests_per_minute


@dataclass(frozen=True, kw_only=True)
class Providers:
    """The configured providers, by name, and the default one."""

    clients: Mapping[Provider, LLMClient]
    default: Provider

    def get(self, name: Provider | None = None) -> LLMClient:
        """The client of ``name`` (default: ``MC_DEFAULT_PROVIDER``)."""
        name = name or self.default
        client = self.clients.get(name)
        if client is None:
            raise ProviderNotConfigured(
                f"the {name} provider is not configured: set {REQUIRED_SETTING[name]}"
            )
        return client

    async def check(self) -> dict[Provider, ProviderHealth]:
        """Health of every provider; unconfigured ones say so and are not contacted."""
        results = await asyncio.gather(*(self._check(name) for name in PROVIDER_NAMES))
        return dict(zip(PROVIDER_NAMES, results, strict=True))

    async def _check(self, name: Provider) -> ProviderHealth:
        client = self.clients.get(name)
        if client is None:
            return ProviderHealth(
                configured=False,
                reachable=False,
                message=f"not configured: set {REQUIRED_SETTING[name]}",
            )
        return await client.check()

    async def aclose(self) -> None:
        """Close every client's connections."""
        await asyncio.gather(*(client.aclose() for client in self.clients.values()))


def build_providers(
    settings: Settings,
    *,
    retry: RetryPolicy | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Providers:
    """Every configured provider behind its own shared rate limiter and retries."""
    clients: dict[Provider, LLMClient] = {}
    for name in PROVIDER_NAMES:
        adapter = build_adapter(settings, name)
        if adapter is None:
            continue
        limiter = RateLimiter(name=name, requests_per_minute=_requests_per_minute(settings, name))
        clients[name] = LLMClient(
            adapter,
            limiter=limiter,
            retry=retry,
            repair=name == "ollama",  # small local models often write tool calls as text
            on_attempt=on_attempt,
        )
    return Providers(clients=clients, default=settings.operator.default_provider)


def build_catalog(settings: Settings, providers: Providers) -> ModelCatalog:
    """The model catalog: Ollama's server describes its models, the table the others.

    Checks the default fallback chain (``MC_MODEL_FALLBACKS``) names configured providers
    only: a :class:`ConfigError` in one line otherwise.
    """
    for provider, model in settings.operator.fallback_chain:
        if provider not in providers.clients:
            raise ConfigError(
                f"MC_MODEL_FALLBACKS: {provider}/{model} needs the {provider} provider, which "
                f"is not configured: set {REQUIRED_SETTING[provider]} or remove it"
            )
    servers: dict[str, Describe] = {}
    ollama = providers.clients.get("ollama")
    if ollama is not None and isinstance(ollama.adapter, OllamaProvider):
        servers["ollama"] = ollama.adapter.describe
    return ModelCatalog(table=load_model_table(settings.operator.models_file), servers=servers)
