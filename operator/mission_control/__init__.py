"""Mission Control: a Kubernetes operator that hands operational work to an LLM agent.

Subpackages and their contracts:

- ``resources``: typed models of the custom resources (pure, no I/O).
- ``llm``: provider adapters behind one neutral interface.
- ``tools`` and ``connectors``: the tool registry and the clients of external systems.
- ``inventory``: merging hosts, workloads and services from every source.
- ``store``: PostgreSQL persistence (journal, usage, audit, inventory).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mission-control")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
