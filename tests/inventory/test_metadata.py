"""The metadata file: valid files load; every mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mission_control.errors import ConfigError
from mission_control.inventory.metadata import load_metadata


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def test_a_full_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
items:
  "proxmox:lxc:pve:101": {owner: alice, tags: [dns]}
services:
  media:
    description: The media stack
    links: [{title: Grafana, url: "https://grafana.lan/d/media"}]
    members: ["k8s:deployment:media:*"]
    selector: {app.kubernetes.io/part-of: media}
""",
    )
    meta = load_metadata(path)
    assert meta.items["proxmox:lxc:pve:101"].owner == "alice"
    assert meta.services["media"].members == ("k8s:deployment:media:*",)
    assert meta.services["media"].links[0].url == "https://grafana.lan/d/media"


def test_no_file_and_an_empty_file_mean_no_metadata(tmp_path: Path) -> None:
    assert load_metadata(None).services == {}
    assert load_metadata(write(tmp_path, "")).items == {}


def test_an_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  media:\n    ownr: alice\n")
    with pytest.raises(ConfigError) as caught:
        load_metadata(path)
    message = str(caught.value)
    assert str(path) in message
    assert "MC_INVENTORY_METADATA_FILE" in message
    assert "services.media.ownr: Extra inputs are not permitted" in message


def test_an_item_id_without_a_known_prefix_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "items:\n  web: {owner: alice}\n")
    with pytest.raises(ConfigError, match=r"items\.web"):
        load_metadata(path)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  media: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 3"):
        load_metadata(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_metadata(tmp_path / "absent.yaml")
