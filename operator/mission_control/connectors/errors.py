"""Errors of the connectors, translated once from each client library.

Messages name the host and what failed, never a credential. Retryable failures
(unreachable, timeouts, server errors) derive from :class:`~mission_control.errors.TemporaryError`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from mission_control.errors import MissionControlError, PermanentError, TemporaryError

__all__ = [
    "MUTATION_TIMEOUT_SECONDS",
    "ConnectorAuthError",
    "ConnectorError",
    "ConnectorForbidden",
    "ConnectorNotConfigured",
    "ConnectorNotFound",
    "ConnectorOutcomeUnknown",
    "ConnectorRequestError",
    "ConnectorUnavailable",
    "display_url",
]

#: Read timeout of a mutating request. Longer than the bound of every mutating tool (checked by
#: the tool tests), so a slow answer is cut by the tool's own bound, which reports an unknown
#: outcome, and never by the connector first.
MUTATION_TIMEOUT_SECONDS = 300.0


class ConnectorError(MissionControlError):
    """Base of every connector error; each carries the connector's name (``source``).

    Catch this for "any connector failure"; whether to retry is the other base's business
    (:class:`~mission_control.errors.TemporaryError` or ``PermanentError``).
    """

    source: str = "connector"


class ConnectorUnavailable(TemporaryError, ConnectorError):
    """The system could not be reached, timed out, or answered with a server error."""


class ConnectorOutcomeUnknown(PermanentError, ConnectorError):
    """A mutating request may have reached the system, but no answer says what it did.

    A timeout or a broken connection after the request was sent, a 5xx or a gateway's
    502/504: the change may or may not have happened. Permanent on purpose: sending it again
    could reboot or roll out twice. The message says what to check before trying again.
    """


class ConnectorAuthError(PermanentError, ConnectorError):
    """The credential was refused (401): the message names the setting to fix."""


class ConnectorForbidden(PermanentError, ConnectorError):
    """Authenticated, but not allowed to do this (403)."""


class ConnectorNotFound(PermanentError, ConnectorError):
    """The named object does not exist."""


class ConnectorRequestError(PermanentError, ConnectorError):
    """The system rejected the request as invalid (400, bad PromQL, ...)."""


class ConnectorNotConfigured(PermanentError, ConnectorError):
    """The connector's settings are missing; the message names the variable."""


def display_url(url: str) -> str:
    """``url`` as it may appear in messages and reprs: without ``user:password@``.

    Basic-auth credentials in a URL (``http://user:secret@prometheus:9090``) are a common way
    to reach a server behind a proxy; they must not reach errors, logs or the journal.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))
