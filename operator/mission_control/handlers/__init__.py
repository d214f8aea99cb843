"""The kopf handlers: glue between Kubernetes events and the run loop.

Contract: the only package (besides the entry points that start the operator) that imports
kopf. A handler reads the object, calls pure decisions (:mod:`mission_control.runs`), hands
the work to :mod:`mission_control.agent`, and patches a small status. No decision logic lives
here.

- :mod:`.operator`: the registry of every handler, and :func:`run_operator`.
- :mod:`.footprint`: kopf's settings, so everything it leaves on objects is ours.
- :mod:`.definitions`: the ``Ready`` condition of Tasks and ToolPolicies, the Task mirror.
- :mod:`.taskruns`: one daemon per active TaskRun around :func:`mission_control.agent.drive_run`.
- :mod:`.ports`: the loop's live view of a TaskRun and its status and Event reporter.
- :mod:`.resolution`: a TaskRun resolved into the loop's request (or why it cannot run).
- :mod:`.logs`: log lines as text or JSON, with the run's namespace and name on each.
- :mod:`.notices`: notifications of runs' transitions, sent in the background.

See ``docs/architecture.md``.
"""

from mission_control.handlers.footprint import FINALIZER, configure_kopf
from mission_control.handlers.logs import configure_logging
from mission_control.handlers.operator import build_registry, run_operator
from mission_control.handlers.services import OperatorServices
from mission_control.handlers.sharding import parse_selector

__all__ = [
    "FINALIZER",
    "OperatorServices",
    "build_registry",
    "configure_kopf",
    "configure_logging",
    "parse_selector",
    "run_operator",
]
