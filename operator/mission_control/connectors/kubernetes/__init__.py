"""The Kubernetes connector: the only code that talks to the Kubernetes API.

:mod:`.client` makes the calls (in worker threads, with timeouts and per-call impersonation),
:mod:`.wire` parses raw response bodies once at the edge into the frozen values of
:mod:`.objects`, and :mod:`.errors` translates the client library's exceptions once.
"""

from mission_control.connectors.kubernetes.client import KubernetesConnector
from mission_control.connectors.kubernetes.objects import (
    K8sDeployment,
    K8sEvent,
    K8sNode,
    K8sPod,
    K8sScale,
    K8sWorkload,
)

__all__ = [
    "K8sDeployment",
    "K8sEvent",
    "K8sNode",
    "K8sPod",
    "K8sScale",
    "K8sWorkload",
    "KubernetesConnector",
]
