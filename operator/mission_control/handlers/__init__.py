"""The kopf handlers: glue between Kubernetes events and the run loop.

Contract: the only package (besides the entry points that start the operator) that imports
kopf. A handler reads the object, calls pure decisions (:mod:`mission_control.runs`), hands
the work to :mod:`mission_control.agent`, and patches a small status. No decision logic lives
here.

Empty for now: the operator fills it. See ``docs/architecture.md``.
"""

__all__: list[str] = []
