"""Errors of the LLM providers, translated once per adapter from its client library.

Whether a retry can help is the type: :class:`RateLimited`, :class:`ProviderUnavailable`,
:class:`ProviderTimeout` and :class:`BadResponse` are temporary (``retry_after`` says how long
the provider asked us to wait, when it did); the others are permanent and their message says
what to change (``ollama pull MODEL``, ``set GEMINI_API_KEY``). Messages never contain a
credential.
"""

from __future__ import annotations

from mission_control.errors import MissionControlError, PermanentError, TemporaryError

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "BadResponse",
    "ModelNotFound",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
]


class ProviderError(MissionControlError):
    """Base of every provider failure; run loops end with reason ``ProviderError`` on these."""


class RateLimited(TemporaryError, ProviderError):
    """HTTP 429, or our own per-provider request limit leaves no slot in time."""


class ProviderUnavailable(TemporaryError, ProviderError):
    """Could not connect, or the provider answered with a server error or "overloaded"."""


class ProviderTimeout(TemporaryError, ProviderError):
    """The request took longer than its timeout or than the caller's deadline allows."""


class BadResponse(TemporaryError, ProviderError):
    """The provider answered with something that cannot be read as a model response."""


class AuthenticationFailed(PermanentError, ProviderError):
    """The credential is missing, invalid or lacks permission; the message names the setting."""


class ModelNotFound(PermanentError, ProviderError):
    """The model does not exist on the provider (or is not pulled, for Ollama)."""


class BadRequest(PermanentError, ProviderError):
    """The provider rejected the request itself (invalid conversation, schema, size)."""


class ProviderNotConfigured(PermanentError, ProviderError):
    """A Task asks for a provider whose settings are missing; the message names the variable."""
