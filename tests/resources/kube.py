"""Small kubectl helpers shared by the tests that talk to the real API server."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.controlplane.launcher import Cluster
from tests.resources.corpus import taskrun

__all__ = ["create", "json_patch", "patch", "started_run"]


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
