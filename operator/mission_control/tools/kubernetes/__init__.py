"""Kubernetes tools: deployments, pods, logs and events in one namespace at a time.

Every tool names its namespace, so the policy can check it against ``targetNamespaces``
before the call, and acts with the run's identity (``ToolContext.impersonate``), so the
cluster's own RBAC bounds it too. Output for the model is a compact table of the fields that
matter; the full parsed result goes to ``ToolOutput.raw`` for the journal.
"""

from __future__ import annotations

from typing import Any

from mission_control.tools.base import RiskLevel, Tool
from mission_control.tools.kubernetes import deployments, pods
from mission_control.tools.kubernetes.common import (
    KubernetesToolError,
    NamespacedArgs,
    target_namespace,
)
from mission_control.tools.kubernetes.deployments import MAX_REPLICAS

__all__ = ["KUBERNETES_TOOLS", "MAX_REPLICAS", "KubernetesToolError"]

KUBERNETES_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="list_k8s_deployments",
        description=(
            "List the Deployments in a Kubernetes namespace with replicas ready/desired, "
            "up-to-date and available counts, age and container images."
        ),
        arguments=NamespacedArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=deployments.list_deployments,
        target_namespace=target_namespace,
    ),
    Tool(
        name="get_k8s_pod_logs",
        description=(
            "Read the log of a container in a Kubernetes pod: the last tailLines lines "
            "(default 200), optionally only the last sinceSeconds seconds, or with "
            "previous=true the log of the instance that crashed before the current one."
        ),
        arguments=pods.PodLogsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=pods.pod_logs,
        target_namespace=target_namespace,
    ),
    Tool(
        name="restart_k8s_deployment",
        description=(
            "Restart all pods of a Kubernetes Deployment with a rolling update, like "
            "'kubectl rollout restart': new pods replace the old ones gradually."
        ),
        arguments=deployments.DeploymentArgs,
        risk=RiskLevel.SAFE_MUTATE,
        connector="kubernetes",
        run=deployments.restart,
        preview=deployments.preview_restart,
        target_namespace=target_namespace,
        outcome_check="check the deployment's restartedAt annotation and its pods (list_k8s_pods)",
    ),
    Tool(
        name="list_k8s_pods",
        description=(
            "List the pods in a Kubernetes namespace with readiness, status (e.g. Running, "
            "Pending, CrashLoopBackOff, ImagePullBackOff), restart counts, node and, for "
            "unhealthy containers, why they wait or how they last exited. Optional "
            "labelSelector."
        ),
        arguments=pods.ListPodsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=pods.list_pods,
        target_namespace=target_namespace,
    ),
    Tool(
        name="get_k8s_events",
        description=(
            "Recent Kubernetes events in a namespace, newest first: scheduling failures, "
            "image pull errors, probe failures, OOM kills, scaling. Narrow to one object "
            "with kind and name, or to warnings with type='Warning'."
        ),
        arguments=pods.EventsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=pods.events,
        target_namespace=target_namespace,
    ),
    Tool(
        name="scale_k8s_deployment",
        description=(
            f"Set the number of replicas (pods) of a Kubernetes Deployment, 0 to {MAX_REPLICAS}."
        ),
        arguments=deployments.ScaleDeploymentArgs,
        risk=RiskLevel.SAFE_MUTATE,
        connector="kubernetes",
        run=deployments.scale,
        preview=deployments.preview_scale,
        target_namespace=target_namespace,
        outcome_check="check the deployment's desired replicas (list_k8s_deployments)",
    ),
    Tool(
        name="delete_k8s_pod",
        description=(
            "Delete one Kubernetes pod. A pod owned by a controller (Deployment, StatefulSet, "
            "...) is replaced by a new one; a bare pod is gone for good."
        ),
        arguments=pods.PodArgs,
        risk=RiskLevel.DESTRUCTIVE,
        connector="kubernetes",
        run=pods.delete,
        preview=pods.preview_delete,
        target_namespace=target_namespace,
        outcome_check="check whether the pod still exists (list_k8s_pods)",
    ),
)
