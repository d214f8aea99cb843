"""The tool context over the local control plane's API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.tools.base import ToolContext
from tests.controlplane.launcher import Cluster


@pytest.fixture
async def context(controlplane: Cluster) -> AsyncIterator[ToolContext]:
    connector = KubernetesConnector.from_kubeconfig(controlplane.kubeconfig)
    yield ToolContext(connectors=Connectors(kubernetes=connector))
    await connector.aclose()
