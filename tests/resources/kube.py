"""Small kubectl helpers shared by the tests that talk to the real API server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.controlplane.launcher import Cluster
from tests.resources.corpus import taskrun

__all__ = [
    "allow_taskrun_edits",
    "create",
    "get",
    "hold",
    "json_patch",
    "patch",
    "person",
    "started_run",
]


def create(
    cluster: Cluster,
    namespace: str,
    manifest: dict[str, Any],
    *,
    dry_run: bool = True,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``kubectl create`` (server-side dry run unless told otherwise), as ``user`` if given."""
    args = ["create", "-n", namespace, "-o", "json", "-f", "-"]
    if dry_run:
        args.append("--dry-run=server")
    return cluster.kubectl(*args, input=json.dumps(manifest), check=False, user=user)


def patch(
    cluster: Cluster,
    namespace: str,
    name: str,
    patch: dict[str, Any],
    *,
    user: str | None = None,
    kind: str = "taskrun",
) -> subprocess.CompletedProcess[str]:
    """A merge patch of the object, as ``user`` if given."""
    return cluster.kubectl(
        "patch",
        kind,
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps(patch),
        check=False,
        user=user,
    )


def json_patch(
    cluster: Cluster, namespace: str, name: str, operations: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """A JSON patch of a TaskRun: unlike a merge patch it can remove and add in one request."""
    return cluster.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps(operations),
        check=False,
    )


def started_run(cluster: Cluster, namespace: str, **spec: Any) -> str:
    """Create the corpus TaskRun (without approvals, plus ``spec``); return its name."""
    run = taskrun()
    run["spec"].update(spec)
    run["spec"].pop("approvals")
    result = create(cluster, namespace, run, dry_run=False)
    assert result.returncode == 0, result.stderr
    return str(run["metadata"]["name"])


def person(cluster: Cluster, name: str, *, groups: tuple[str, ...], directory: Path) -> Cluster:
    """A real user of the local control plane: a client certificate (CN=name, O=groups) and
    a kubeconfig of its own, so the API server authenticates them, with no impersonation."""
    if cluster.ca is None:
        import pytest

        pytest.skip("needs the local control plane's CA to issue a client certificate")
    pair = cluster.ca.issue(name, common_name=name, organizations=groups, client=True)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority": str(cluster.ca.cert),
                },
            }
        ],
        "users": [
            {
                "name": name,
                "user": {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": "local", "user": name}}],
    }
    path = directory / f"{name}.kubeconfig"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return Cluster(
        kubeconfig=path, kubectl_path=cluster.kubectl_path, server=cluster.server, ca=cluster.ca
    )


def allow_taskrun_edits(cluster: Cluster, namespace: str, *, group: str) -> None:
    """Members of ``group`` may create, read and patch TaskRuns in ``namespace``."""
    cluster.kubectl(
        "create",
        "role",
        f"taskrun-editor-{group}",
        "--verb=get,list,create,patch",
        "--resource=taskruns.missioncontrol.dev",
        "-n",
        namespace,
    )
    cluster.kubectl(
        "create",
        "rolebinding",
        f"taskrun-editors-{group}",
        f"--role=taskrun-editor-{group}",
        f"--group={group}",
        "-n",
        namespace,
    )


def hold(
    cluster: Cluster, namespace: str, name: str, *, tool_call_id: str, arguments: dict[str, Any]
) -> str:
    """Put a call into ``status.pendingApproval`` as the operator does; return its digest."""
    from mission_control.runs.approvals import args_digest, canonical_json

    digest = args_digest(arguments)
    pending = {
        "toolCallId": tool_call_id,
        "tool": "delete_k8s_pod",
        "risk": "DESTRUCTIVE",
        "arguments": canonical_json(arguments),
        "argsDigest": digest,
        "requestedAt": "2026-01-01T00:00:00Z",
        "expiresAt": "2026-01-01T01:00:00Z",
    }
    cluster.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"pendingApproval": pending}}),
    )
    return digest


def get(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    """The TaskRun as JSON."""
    text = cluster.kubectl("get", "taskrun", name, "-n", namespace, "-o", "json").stdout
    result: dict[str, Any] = json.loads(text)
    return result
