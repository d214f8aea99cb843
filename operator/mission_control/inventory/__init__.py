"""The merged inventory of hosts, workloads and services: a service over the connectors.

Layers: :mod:`.model` (frozen values), :mod:`.metadata` (the static YAML file),
:mod:`.merge` (pure merge, no I/O), :mod:`.sources` (one per connector) and
:mod:`.collector` (:class:`Inventory`: refresh, last good data, snapshot). The store
persists :class:`InventorySnapshot`; the ``get_inventory`` tool reads it.
"""

from mission_control.inventory.collector import Inventory
from mission_control.inventory.metadata import InventoryMetadata, load_metadata
from mission_control.inventory.model import (
    InventoryItem,
    InventorySnapshot,
    ItemKind,
    Link,
    SourceName,
    SourceStatus,
)

__all__ = [
    "Inventory",
    "InventoryItem",
    "InventoryMetadata",
    "InventorySnapshot",
    "ItemKind",
    "Link",
    "SourceName",
    "SourceStatus",
    "load_metadata",
]
