"""LLM providers behind one neutral interface.

Contract: the run loop builds :class:`Providers` once (:func:`build_providers`), picks an
:class:`LLMClient` with :meth:`Providers.get`, and calls
``await client.complete(messages=..., tools=..., model=..., deadline=...)`` to get an
:class:`LLMResponse` (text, tool calls, usage, finish reason, latency, raw payload). Failures
are :class:`ProviderError` subclasses only: temporary ones were already retried within the
deadline. Malformed model output is data, never an exception: a tool call may name a tool
that was not offered, or carry ``arguments_error`` (arguments that were not a JSON object),
and the run loop answers either with a tool error. :meth:`PriceTable.cost` turns usage into
a :class:`Cost`.

Layers: ``messages`` (neutral types), ``errors``, ``pricing``, ``repair``, ``retry`` and
``ratelimit`` are pure or nearly; ``providers.*`` are the only modules that talk to a
provider, each through its official client library; ``client`` and ``factory`` compose them.
"""

from mission_control.llm.client import Attempt, LLMClient
from mission_control.llm.errors import (
    AuthenticationFailed,
    BadRequest,
    BadResponse,
    ModelNotFound,
    ProviderError,
    ProviderNotConfigured,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from mission_control.llm.factory import Providers, build_catalog, build_providers
from mission_control.llm.messages import (
    AssistantMessage,
    FinishReason,
    LLMResponse,
    Message,
    SystemMessage,
    ToolCall,
    ToolDefinition,
    ToolResultMessage,
    Usage,
    UserMessage,
    dump_messages,
    load_messages,
)
from mission_control.llm.pricing import Cost, PriceTable, load_price_table
from mission_control.llm.provider import ChatProvider, ProviderHealth

__all__ = [
    "AssistantMessage",
    "Attempt",
    "AuthenticationFailed",
    "BadRequest",
    "BadResponse",
    "ChatProvider",
    "Cost",
    "FinishReason",
    "LLMClient",
    "LLMResponse",
    "Message",
    "ModelNotFound",
    "PriceTable",
    "ProviderError",
    "ProviderHealth",
    "ProviderNotConfigured",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Providers",
    "RateLimited",
    "SystemMessage",
    "ToolCall",
    "ToolDefinition",
    "ToolResultMessage",
    "Usage",
    "UserMessage",
    "build_catalog",
    "build_providers",
    "dump_messages",
    "load_messages",
    "load_price_table",
]
