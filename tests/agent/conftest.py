"""The run loop's services over real components: Ollama, PostgreSQL and the control plane.

- ``agent_namespace``: a fresh namespace with the ServiceAccount ``mission-control-agent``
  bound to the built-in ``edit`` ClusterRole (tests that need less make their own).
- ``services``: :class:`AgentServices` with the real Ollama as the default provider (and the
  Gemini and Anthropic wire doubles configured), the test's own database and a Kubernetes
  connector on the control plane.
- ``doubles_services``: builds :class:`AgentServices` whose three providers are the wire
  doubles, retrying quickly; each call gets new providers (as after an operator restart).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mission_control.agent import AgentServices
from mission_control.connectors import Connectors
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.llm import Providers, build_catalog, build_providers, load_price_table
from mission_control.llm.retry import RetryPolicy
from mission_control.settings import load_settings
from mission_control.store import Store
from mission_control.tools import ToolContext, default_registry
from tests.agent.harness import BuildServices
from tests.controlplane.launcher import Cluster
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.support.ollama import LocalOllama

AGENT = "mission-control-agent"


def bind(cluster: Cluster, namespace: str, *, account: str, cluster_role: str) -> None:
    """Create ``account`` in ``namespace`` bound to ``cluster_role`` there."""
    cluster.kubectl("create", "serviceaccount", account, "-n", namespace)
    cluster.kubectl(
        "create", "rolebinding", f"{account}-{cluster_role}", "-n", namespace,
        f"--clusterrole={cluster_role}", f"--serviceaccount={namespace}:{account}",
    )  # fmt: skip


@pytest.fixture
def agent_namespace(controlplane: Cluster, k8s_namespace: str) -> str:
    bind(controlplane, k8s_namespace, account=AGENT, cluster_role="edit")
    return k8s_namespace


@pytest.fixture
async def services(
    controlplane: Cluster,
    ollama_server: LocalOllama,
    store: Store,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
) -> AsyncIterator[AgentServices]:
    settings = load_settings(
        {
            "OLLAMA_BASE_URL": ollama_server.url,
            "OLLAMA_TIMEOUT_SECONDS": "60",
            "GEMINI_API_KEY": fake_gemini.api_key,
            "GEMINI_BASE_URL": fake_gemini.url,
            "GEMINI_MODEL": "gemini-2.0-flash",
            "ANTHROPIC_API_KEY": fake_anthropic.api_key,
            "ANTHROPIC_BASE_URL": fake_anthropic.url,
            "ANTHROPIC_MODEL": "claude-sonnet-4-6",
        }
    )
    providers = build_providers(settings)
    connector = KubernetesConnector.from_kubeconfig(controlplane.kubeconfig)
    yield AgentServices(
        providers=providers,
        registry=default_registry(),
        tools=ToolContext(connectors=Connectors(kubernetes=connector)),
        store=store,
        prices=load_price_table(None),
    )
    await connector.aclose()
    await providers.aclose()


@pytest.fixture
async def doubles_services(
    controlplane: Cluster,
    store: Store,
    fake_llm_environ: dict[str, str],
    tmp_path: Path,
) -> AsyncIterator[BuildServices]:
    """AgentServices whose three providers are the wire doubles, retrying quickly."""
    opened: list[Providers] = []
    connector = KubernetesConnector.from_kubeconfig(controlplane.kubeconfig)
    base = AgentServices(
        providers=build_providers(load_settings({})),
        registry=default_registry(),
        tools=ToolContext(connectors=Connectors(kubernetes=connector)),
        store=store,
        prices=load_price_table(None),
    )

    def build(*, models_file: str = "", **changes: Any) -> AgentServices:
        environ = dict(fake_llm_environ, OLLAMA_STALL_SECONDS="0")
        if models_file:
            path = tmp_path / "models.yaml"
            path.write_text(models_file)
            environ["MC_MODELS_FILE"] = str(path)
        settings = load_settings(environ)
        providers = build_providers(settings, retry=RetryPolicy(max_attempts=2, base_delay=0.05))
        opened.append(providers)
        return dataclasses.replace(
            base,
            providers=providers,
            catalog=build_catalog(settings, providers),
            **changes,
        )

    yield build
    for providers in opened:
        await providers.aclose()
    await connector.aclose()
