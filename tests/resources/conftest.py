"""Fixtures of the resource tests."""

from __future__ import annotations

import json

import pytest

from tests.controlplane.launcher import Cluster


@pytest.fixture
def alice_may_edit_taskruns(crds: Cluster, k8s_namespace: str) -> str:
    """User alice may create and patch TaskRuns in the test namespace (nothing else)."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "taskrun-editor", "namespace": k8s_namespace},
        "rules": [
            {
                "apiGroups": ["missioncontrol.dev"],
                "resources": ["taskruns"],
                "verbs": ["get", "list", "create", "patch", "update"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice", "namespace": k8s_namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "taskrun-editor",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    crds.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [role, binding]}),
    )
    return "alice"
