"""The read-only HTTP API: the journal, inventory and usage, and run events over SSE.

Contract: the only package that imports the HTTP server library. It reads through the store
with a read-only database role and never changes a run, a tool call or a Kubernetes object.

Empty for now: the sidecar issue fills it. See ``docs/architecture.md``.
"""

__all__: list[str] = []
