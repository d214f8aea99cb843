"""The operator's services, built from the settings: store, providers, tools, connectors.

At start-up the audit key is required (unless explicitly optional), the store's schema is
checked, and the tool registry is written to ``tool_definitions`` (the catalogue as offered to
models). Every configuration problem is a :class:`~mission_control.errors.ConfigError` naming
the variable, raised before anything starts. While the services are open, the metrics are
served on ``MC_METRICS_PORT``, the inventory is refreshed into the store and the audit chain
is checkpointed (:mod:`.background`); with ``MC_WEBHOOK_PORT`` the Alertmanager receiver of
TaskTriggers listens, for the triggers of this operator's shard (``selector``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial

from mission_control.agent import AgentServices
from mission_control.connectors import Connectors
from mission_control.connectors.audit_checkpoint import AuditCheckpoints
from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.errors import ConfigError
from mission_control.handlers.services import OperatorServices, utc_now
from mission_control.handlers.sharding import LabelFilter, matches
from mission_control.llm import Providers, build_catalog, build_providers, load_price_table
from mission_control.llm.factory import PROVIDER_NAMES, REQUIRED_SETTING
from mission_control.runs.readiness import Capabilities
from mission_control.settings import Settings
from mission_control.store import Store, ToolDefinitionRecord, require_audit_key
from mission_control.telemetry import OperatorMetrics, RunTracing, serve_metrics
from mission_control.tools import ToolContext, ToolRegistry, default_registry
from mission_control.triggers.receiver import serve_webhook
from mission_control.triggers.service import TriggerService
from mission_control.triggers.tokens import TriggerTokens
from mission_control.wiring import build_connectors, build_inventory
from mission_control.wiring.background import AuditCheckpointer, InventoryRefresher, background
from mission_control.wiring.notifications import build_notifier

__all__ = ["capabilities_of", "operator_services", "tool_definitions"]

log = logging.getLogger(__name__)


def tool_definitions(registry: ToolRegistry) -> list[ToolDefinitionRecord]:
    """Every registered tool as the ``tool_definitions`` table keeps it."""
    return [
        ToolDefinitionRecord(
            name=tool.name,
            description=tool.description,
            risk=tool.risk.value,
            parameters=tool.json_schema(),
            connector=tool.connector,
            timeout_seconds=tool.timeout_seconds,
        )
        for tool in registry
    ]


def capabilities_of(
    *, registry: ToolRegistry, tools: ToolContext, providers: Providers
) -> Capabilities:
    """What this configuration can serve, for judging Tasks."""
    return Capabilities(
        tools=frozenset(registry.names()),
        unavailable_tools=registry.unavailable(tools.connectors, inventory=tools.inventory),
        unconfigured_providers={
            name: REQUIRED_SETTING[name] for name in PROVIDER_NAMES if name not in providers.clients
        },
        default_provider=providers.default,
    )


@asynccontextmanager
async def operator_services(
    settings: Settings,
    *,
    audit_key_optional: bool = False,
    selector: LabelFilter | None = None,
) -> AsyncIterator[OperatorServices]:
    """Open everything the operator uses, and close it all afterwards; the webhook receiver
    answers for the TaskTriggers ``selector`` matches (all without one)."""
    audit_key = require_audit_key(settings.audit, optional=audit_key_optional)
    prices = load_price_table(settings.operator.prices_file)
    settings.database.require_url()
    connectors = build_connectors(settings)
    try:
        if connectors.kubernetes is None:
            raise ConfigError(
                "KUBECONFIG: is not set and the operator does not run in a pod with a service "
                "account; set KUBECONFIG to a kubeconfig file"
            )
        inventory = build_inventory(settings, connectors)
        tools = ToolContext(connectors=connectors, inventory=inventory)
        registry = default_registry()
        metrics = OperatorMetrics(namespace_label=settings.operator.metrics_namespace_label)
        providers = build_providers(settings, on_attempt=metrics.llm_attempt)
        catalog = build_catalog(settings, providers)
        tracing = RunTracing.from_settings(
            settings.tracing, content=settings.operator.trace_content
        )
        stop_metrics: Callable[[], None] | None = None
        try:
            async with Store.from_settings(settings.database, audit_key=audit_key) as store:
                await store.tool_definitions.sync(tool_definitions(registry))
                agent = AgentServices(
                    providers=providers,
                    registry=registry,
                    tools=tools,
                    store=store,
                    prices=prices,
                    metrics=metrics,
                    tracing=tracing,
                    catalog=catalog,
                    fallbacks=settings.operator.fallback_chain,
                    fallback_cooldown_seconds=settings.operator.model_fallback_cooldown_seconds,
                )
                if settings.operator.metrics_port:
                    stop_metrics = serve_metrics(
                        metrics,
                        host=settings.operator.metrics_host,
                        port=settings.operator.metrics_port,
                    )
                refresher = (
                    None
                    if inventory is None
                    else InventoryRefresher(
                        inventory=inventory,
                        store=store,
                        metrics=metrics,
                        interval=settings.operator.inventory_refresh_seconds,
                    )
                )
                checkpointer = _checkpointer(
                    settings, connectors=connectors, store=store, metrics=metrics
                )
                objects = MissionControlObjects(connectors.kubernetes)
                notifier = build_notifier(
                    settings,
                    kubernetes=connectors.kubernetes,
                    objects=objects,
                    store=store,
                    metrics=metrics,
                )
                triggers = TriggerService(
                    objects=objects,
                    tokens=TriggerTokens(
                        connectors.kubernetes,
                        agent_account=settings.operator.agent_service_account,
                    ),
                    metrics=metrics,
                    clock=utc_now,
                )
                async with (
                    background(refresher=refresher, checkpointer=checkpointer),
                    notifier.running(),
                    _webhook(settings, triggers, selector=selector),
                ):
                    yield OperatorServices(
                        objects=objects,
                        agent=agent,
                        capabilities=capabilities_of(
                            registry=registry, tools=tools, providers=providers
                        ),
                        default_service_account=settings.operator.agent_service_account,
                        max_concurrent_runs=settings.operator.max_concurrent_runs,
                        notifier=notifier,
                        triggers=triggers,
                    )
        finally:
            if stop_metrics is not None:
                stop_metrics()
            tracing.shutdown()
            await providers.aclose()
    finally:
        await connectors.aclose()


@asynccontextmanager
async def _webhook(
    settings: Settings, triggers: TriggerService, *, selector: LabelFilter | None
) -> AsyncIterator[None]:
    """The Alertmanager receiver of TaskTriggers on ``MC_WEBHOOK_PORT``, when it is set."""
    port = settings.operator.webhook_port
    if port is None:
        yield
        return
    serves: Callable[[Mapping[str, str]], bool] = partial(matches, selector)
    async with serve_webhook(
        triggers, host=settings.operator.webhook_host, port=port, serves=serves
    ):
        yield


def _checkpointer(
    settings: Settings, *, connectors: Connectors, store: Store, metrics: OperatorMetrics
) -> AuditCheckpointer | None:
    """The checkpointer, or None (logged) when there is nowhere to keep the checkpoint."""
    if connectors.kubernetes is None:
        return None
    try:
        checkpoints = AuditCheckpoints.from_settings(connectors.kubernetes, settings.audit)
    except ConnectorNotConfigured as exc:
        log.warning("the audit chain will not be checkpointed: %s", exc)
        return None
    return AuditCheckpointer(
        store=store,
        checkpoints=checkpoints,
        metrics=metrics,
        every=settings.audit.checkpoint_every,
    )
