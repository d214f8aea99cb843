"""Notifications through Apprise: one library that speaks ntfy, Slack, Matrix, Discord, email...

A receiver is one Apprise URL. Those URLs carry tokens (a Slack webhook's path, a ntfy topic, a
bot token), so nothing here ever shows one: errors name the service only (``ntfy``,
``slack``...), and Apprise's own logger, which writes URLs and responses at several levels, is
silenced for good when the first :class:`AppriseSender` is made.

Apprise is synchronous: each send runs in a worker thread with a bound on its duration, so
the event loop never waits on a receiver.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import apprise

from mission_control.connectors.errors import ConnectorError
from mission_control.errors import PermanentError, TemporaryError

__all__ = [
    "AppriseSender",
    "InvalidReceiver",
    "MessageKind",
    "NotificationError",
    "Outgoing",
    "ReceiverRefused",
    "parse_receivers",
    "service_of",
]

#: How a receiver may show a message.
MessageKind = Literal["approval", "success", "failure"]

_NOTIFY_TYPE: dict[MessageKind, apprise.NotifyType] = {
    "approval": apprise.NotifyType.WARNING,
    "success": apprise.NotifyType.SUCCESS,
    "failure": apprise.NotifyType.FAILURE,
}
# ntfy shows priority and tags (tags named like emoji become the emoji); the rest ignore them.
_NTFY_PRIORITY: dict[MessageKind, str] = {
    "approval": "high",
    "success": "default",
    "failure": "high",
}
_NTFY_TAGS: dict[MessageKind, str] = {
    "approval": "warning,mission-control",
    "success": "white_check_mark,mission-control",
    "failure": "x,mission-control",
}
_NTFY_SCHEMES = ("ntfy", "ntfys")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_APPRISE_LOGGER = "apprise"


class NotificationError(ConnectorError):
    """A notification could not be sent; ``service`` names the receiver's service, never its
    URL."""

    source = "notify"

    def __init__(self, message: str, *, service: str) -> None:
        super().__init__(message)
        self.service = service


class InvalidReceiver(PermanentError, NotificationError):
    """Apprise does not understand the URL (unknown service, or a required part missing)."""


class ReceiverRefused(NotificationError, TemporaryError):
    """The receiver refused the message, timed out, or could not be reached."""

    def __init__(self, message: str, *, service: str) -> None:
        NotificationError.__init__(self, message, service=service)
        self.retry_after = None


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """A message as every receiver gets it: plain text, a title, and a link to the run."""

    title: str
    body: str
    kind: MessageKind
    link: str | None = None


def service_of(url: str) -> str:
    """The service a URL is for, from its scheme (``ntfys://…`` is ``ntfys``); safe to show."""
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else "unknown"


def parse_receivers(text: str) -> list[str]:
    """Apprise URLs from a file or Secret value: one per line; blank lines and ``#`` comments
    are skipped; repeated URLs count once."""
    urls = []
    for line in text.splitlines():
        url = line.strip()
        if url and not url.startswith("#"):
            urls.append(url)
    return list(dict.fromkeys(urls))


def _silence_apprise() -> None:
    # Apprise logs the URLs it posts to, and ntfy topics and webhook paths are the secrets.
    logger = logging.getLogger(_APPRISE_LOGGER)
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    logger.disabled = True


def _with_ntfy_options(url: str, message: Outgoing) -> str:
    """A ntfy URL with the message's priority, tags, click and view action, unless the URL
    sets them itself (the receiver's owner decides)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("priority", _NTFY_PRIORITY[message.kind])
    query.setdefault("tags", _NTFY_TAGS[message.kind])
    if message.link is not None:
        query.setdefault("click", message.link)
        query.setdefault("actions", f"view, Open run, {message.link}")
    # quote, not quote_plus: Apprise reads a "+" in a query value as a plus sign.
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class AppriseSender:
    """Sends one message to one receiver; ``timeout_seconds`` bounds each attempt."""

    def __init__(self, *, timeout_seconds: float = 15.0) -> None:
        _silence_apprise()
        self._timeout = timeout_seconds

    def check(self, url: str) -> str:
        """The URL's service name; :class:`InvalidReceiver` if Apprise does not understand it."""
        self._plugin(url)
        return service_of(url)

    def _plugin(self, url: str) -> apprise.NotifyBase:
        service = service_of(url)
        try:
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        except Exception:  # a plugin's parser failing on odd input: the URL is the problem
            plugin = None
        if plugin is None:
            raise InvalidReceiver(
                f"a {service} receiver's URL is not a valid Apprise URL "
                "(see https://appriseit.com for the format of each service)",
                service=service,
            )
        return plugin

    async def send(self, url: str, message: Outgoing) -> None:
        """Send ``message`` to the receiver at ``url``; :class:`ReceiverRefused` if it did not
        take it, :class:`InvalidReceiver` if the URL is not one Apprise understands."""
        service = service_of(url)
        if service in _NTFY_SCHEMES:
            url = _with_ntfy_options(url, message)
        plugin = self._plugin(url)
        sent = await asyncio.to_thread(self._send_now, plugin, message)
        if not sent:
            raise ReceiverRefused(
                f"the {service} receiver did not accept the message (refused, unreachable or "
                f"no answer within {self._timeout:g}s)",
                service=service,
            )

    def _send_now(self, plugin: apprise.NotifyBase, message: Outgoing) -> bool:
        batch = apprise.Apprise()
        batch.add(plugin)
        try:
            result = batch.notify(
                body=message.body,
                title=message.title,
                notify_type=_NOTIFY_TYPE[message.kind],
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self._timeout,
            )
        except Exception:  # whatever the plugin raised, the receiver did not get the message
            return False
        return bool(result)
