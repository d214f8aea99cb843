"""TaskTriggers at work: schedule ticks and Alertmanager alerts turned into TaskRuns.

- :mod:`.service`: :class:`~.service.TriggerService`, what both sources share: a trigger's
  runs, its Ready verdict, starting runs under the concurrency policy, pruning the history,
  the status. The kopf handlers (:mod:`mission_control.handlers.triggers`) call it for
  schedules and for the runs' events.
- :mod:`.objects`: the raw objects' parts the service reads and writes (runs, status entries).
- :mod:`.tokens`: alerting triggers' bearer tokens, read as the agent ServiceAccount of the
  trigger's namespace (impersonation), never with the operator's own identity.
- :mod:`.receiver`: the Alertmanager webhook receiver (an ``aiohttp`` server on
  ``MC_WEBHOOK_PORT``), started by the composition root when the port is set.

The decisions are pure (:mod:`mission_control.runs.schedule`, :mod:`~mission_control.runs.alerts`,
:mod:`~mission_control.runs.triggers`); this package reads and writes the objects. Nothing is
kept outside the TaskTrigger's status and its TaskRuns. See ``docs/architecture.md``.
"""
