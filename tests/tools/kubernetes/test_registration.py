"""The Kubernetes tools' registration and argument checks: no I/O."""

from __future__ import annotations

import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.tools.base import ToolContext
from mission_control.tools.kubernetes import KUBERNETES_TOOLS
from tests.tools.kubernetes.helpers import TOOLS, call


def test_the_seven_tools_are_registered_with_fixed_risks() -> None:
    assert {name: tool.risk.value for name, tool in TOOLS.items()} == {
        "list_k8s_deployments": "READ_ONLY",
        "get_k8s_pod_logs": "READ_ONLY",
        "restart_k8s_deployment": "SAFE_MUTATE",
        "list_k8s_pods": "READ_ONLY",
        "get_k8s_events": "READ_ONLY",
        "scale_k8s_deployment": "SAFE_MUTATE",
        "delete_k8s_pod": "DESTRUCTIVE",
    }
    assert all(tool.connector == "kubernetes" for tool in KUBERNETES_TOOLS)


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_reports_its_target_namespace(name: str) -> None:
    tool = TOOLS[name]
    arguments = {"namespace": "media", "name": "web", "replicas": 1}
    schema_fields = set(tool.json_schema()["properties"])
    parsed = tool.parse_arguments({k: v for k, v in arguments.items() if k in schema_fields})
    assert tool.target_namespace is not None
    assert tool.target_namespace(parsed) == "media"


def test_the_log_tool_offers_the_kubernetes_parameter_names() -> None:
    properties = TOOLS["get_k8s_pod_logs"].json_schema()["properties"]
    assert {"namespace", "name", "container", "tailLines", "sinceSeconds", "previous"} == set(
        properties
    )


def test_arguments_are_validated_before_any_io_naming_every_bad_field() -> None:
    tool = TOOLS["get_k8s_pod_logs"]
    with pytest.raises(Exception, match="invalid arguments for get_k8s_pod_logs") as err:
        tool.parse_arguments({"namespace": "Media_NS", "tail_lines": 5, "podName": "web"})
    message = str(err.value)
    for field in ("namespace", "tail_lines", "podName", "name: Field required"):
        assert field in message


def test_scaling_is_bounded() -> None:
    with pytest.raises(Exception, match="replicas: Input should be less than or equal to 50"):
        TOOLS["scale_k8s_deployment"].parse_arguments(
            {"namespace": "media", "name": "web", "replicas": 1000}
        )


async def test_a_missing_kubernetes_connector_is_reported_as_not_configured() -> None:
    with pytest.raises(ConnectorNotConfigured, match="KUBECONFIG"):
        await call("list_k8s_pods", ToolContext(connectors=Connectors()), namespace="media")
