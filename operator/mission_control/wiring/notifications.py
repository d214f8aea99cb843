"""The notifier, built from ``MC_NOTIFY_*`` and ``MC_PUBLIC_URL``.

The operator-wide receivers are read once, at start-up, from ``MC_NOTIFY_URLS_FILE``; a file
that is missing, or a line Apprise does not understand, is a start-up ``ConfigError`` naming the
variable and the line, never the URL (those URLs carry tokens).
"""

from __future__ import annotations

from mission_control.connectors.kubernetes.client import KubernetesConnector
from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.connectors.notify import AppriseSender, InvalidReceiver, parse_receivers
from mission_control.errors import ConfigError
from mission_control.handlers.notices import Notifier
from mission_control.resources.notify import NOTIFY_TRANSITIONS, NotifyTransition
from mission_control.runs.notify import DEFAULT_ON
from mission_control.settings import Settings
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics

__all__ = ["build_notifier", "operator_on", "operator_receivers"]


def operator_on(text: str) -> frozenset[NotifyTransition]:
    """``MC_NOTIFY_ON`` parsed: comma-separated transitions; empty means the default."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        return DEFAULT_ON
    unknown = [name for name in names if name not in NOTIFY_TRANSITIONS]
    if unknown:
        raise ConfigError(
            f"MC_NOTIFY_ON: {', '.join(unknown)} is not a transition; use any of "
            f"{', '.join(NOTIFY_TRANSITIONS)} (check the environment)"
        )
    return frozenset(name for name in NOTIFY_TRANSITIONS if name in names)


def operator_receivers(settings: Settings, *, sender: AppriseSender) -> list[str]:
    """The URLs of ``MC_NOTIFY_URLS_FILE`` (none when unset), each checked with Apprise."""
    path = settings.notify.urls_file
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"MC_NOTIFY_URLS_FILE: cannot read {path}: {type(exc).__name__} (check the file)"
        ) from None
    urls = parse_receivers(text)
    for number, url in enumerate(urls, start=1):
        try:
            sender.check(url)
        except InvalidReceiver as exc:
            raise ConfigError(f"MC_NOTIFY_URLS_FILE: receiver {number} of {path}: {exc}") from None
    return urls


def build_notifier(
    settings: Settings,
    *,
    kubernetes: KubernetesConnector,
    objects: MissionControlObjects,
    store: Store,
    metrics: OperatorMetrics,
) -> Notifier:
    """The operator's notifier (see :mod:`mission_control.handlers.notices`)."""
    config = settings.notify
    sender = AppriseSender(timeout_seconds=config.timeout_seconds)
    return Notifier(
        sender=sender,
        store=store,
        objects=objects,
        kubernetes=kubernetes,
        metrics=metrics,
        agent_account=settings.operator.agent_service_account,
        operator_urls=operator_receivers(settings, sender=sender),
        operator_on=operator_on(config.on),
        public_url=config.public_url,
        queue_size=config.queue_size,
        retry_seconds=config.retry_seconds,
    )
