"""What kopf leaves on our objects, and how it behaves: everything under ``missioncontrol.dev/``.

kopf's defaults put a finalizer and progress annotations under ``kopf.zalando.org/``, record
handler progress in ``status.kopf``, store handlers' return values in status, and post an Event
for every handler it calls. Here: the finalizer and any annotation kopf needs are ours (the
run's daemon needs no finalizer, see :mod:`.operator`), nothing goes to ``status.kopf``
(annotations only), and kopf posts no Events at all: we post our own, on transitions only.
Our handlers return nothing, so no handler result is ever written into status.
"""

from __future__ import annotations

import kopf

__all__ = ["FINALIZER", "PREFIX", "configure_kopf"]

PREFIX = "missioncontrol.dev"
FINALIZER = f"{PREFIX}/finalizer"
#: How long kopf waits for a stopped daemon to return before it polls through the object.
INSTANT_EXIT_SECONDS = 10.0


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Apply our footprint and behaviour to kopf's settings (called at start-up)."""
    settings.persistence.finalizer = FINALIZER
    # Annotations only (kopf's default "smart" storage also writes status.kopf).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX, v1=False)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration", v1=False
    )
    # No Events from kopf: neither per handler nor from log records.
    settings.posting.enabled = False
    # A run's daemon is told to stop when its final status arrives (the daemon's filter no
    # longer matches) while it still posts its last Event and journal entry. kopf waits this
    # long for it to return, holding up only that object's (finished) events; by default it
    # waits a few loop cycles, then writes an annotation to the object to look again later
    # and another to remove it: two API writes per run.
    settings.background.instant_exit_timeout = INSTANT_EXIT_SECONDS
    # Watches reconnect quickly after an API server restart.
    settings.watching.reconnect_backoff = 1.0
