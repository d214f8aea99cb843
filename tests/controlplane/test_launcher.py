"""The local control plane's launcher copes with a port taken by someone else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controlplane import launcher
from tests.support.processes import occupied_port

pytestmark = pytest.mark.controlplane


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process is listening on."""
    with occupied_port() as port:
        yield port


def test_a_port_taken_after_it_was_picked_is_retried_on_fresh_ports(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.environ.get("MC_TEST_KUBECONFIG"):
        pytest.skip("exercises the local control plane's launcher itself")
    picks = iter([taken_port])
    real_free_port = launcher.free_port
    # The first port handed out (etcd's client port) is already in use, as if another
    # process had bound it between free_port() and etcd starting.
    monkeypatch.setattr(launcher, "free_port", lambda: next(picks, None) or real_free_port())
    plane = launcher.LocalControlPlane(workdir=tmp_path / "cp")
    try:
        cluster = plane.start()
        assert f":{taken_port}" not in cluster.server
        assert cluster.kubectl("get", "namespace", "default").returncode == 0
        assert "address already in use" in (tmp_path / "cp" / "etcd.log").read_text()
    finally:
        plane.stop()
    assert plane._processes == {}
