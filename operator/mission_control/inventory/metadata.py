"""The static inventory metadata file (``MC_INVENTORY_METADATA_FILE``).

YAML with two optional maps::

    items:                        # metadata for items the sources discover, by id
      "proxmox:lxc:pve:101": {owner: alice, description: DNS, tags: [dns], links: [...]}
    services:                     # groupings; each becomes the item ``service:NAME``
      media:
        owner: alice
        description: The media stack
        tags: [media]
        links: [{title: Dashboard, url: "https://grafana.lan/d/media"}]
        members: ["k8s:deployment:media:*", "proxmox:lxc:pve:101"]   # ids, globs allowed
        selector: {app.kubernetes.io/part-of: media}                  # labels, all must match

Unknown keys are errors: a typo must not silently drop an owner. Every problem is a
:class:`~mission_control.errors.ConfigError` naming the file and the bad key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mission_control.errors import ConfigError

__all__ = ["InventoryMetadata", "ItemMetadata", "LinkSpec", "ServiceSpec", "load_metadata"]

ItemId = Annotated[str, StringConstraints(pattern=r"^(k8s|proxmox|argocd|service):\S+$")]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkSpec(_Strict):
    """A named URL."""

    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")


class ItemMetadata(_Strict):
    """Owner, description, tags and links of one item."""

    owner: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    links: tuple[LinkSpec, ...] = ()


class ServiceSpec(ItemMetadata):
    """A service grouping: members by id (globs allowed) and/or by labels."""

    members: tuple[str, ...] = ()
    selector: dict[str, str] = Field(default_factory=dict)


class InventoryMetadata(_Strict):
    """The whole file; empty when no file is configured."""

    items: dict[ItemId, ItemMetadata] = Field(default_factory=dict)
    services: dict[ServiceName, ServiceSpec] = Field(default_factory=dict)


def load_metadata(path: Path | None) -> InventoryMetadata:
    """Read and validate the file; no file configured means no metadata."""
    if path is None:
        return InventoryMetadata()
    where = f"inventory metadata file {path} (MC_INVENTORY_METADATA_FILE)"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from None
    if raw is None:
        return InventoryMetadata()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping with items and services")
    try:
        return InventoryMetadata.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{where}: {key}: {first['msg']}{more}") from None
