"""Start-up time of the local control plane (etcd, kube-apiserver, kube-controller-manager).

Run with ``python -m bench.controlplane [N]``: starts and stops it N times (default 5) and
prints the time to a ready API server with the ``default`` namespace, and to the first
ReplicaSet made by the controller-manager for a new Deployment.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.controlplane.launcher import LocalControlPlane, build_binaries

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "probe", "namespace": "default"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "probe"}},
        "template": {
            "metadata": {"labels": {"app": "probe"}},
            "spec": {"containers": [{"name": "probe", "image": "busybox"}]},
        },
    },
}


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 5
    started = time.monotonic()
    bin_dir = build_binaries()
    print(f"binaries ready in {time.monotonic() - started:.2f}s (cached build check)")
    ready, controllers = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as workdir:
            plane = LocalControlPlane(workdir=Path(workdir), bin_dir=bin_dir)
            began = time.monotonic()
            cluster = plane.start()
            ready.append(time.monotonic() - began)
            cluster.kubectl("apply", "-f", "-", input=json.dumps(DEPLOYMENT))
            while not cluster.kubectl("get", "rs", "-l", "app=probe", "-o", "name").stdout:
                time.sleep(0.05)
            controllers.append(time.monotonic() - began)
            plane.stop()
    for label, values in (
        ("API ready + default namespace", ready),
        ("first ReplicaSet from a Deployment", controllers),
    ):
        print(
            f"{label:36s} median {statistics.median(values):5.2f}s  "
            f"min {min(values):5.2f}s  max {max(values):5.2f}s  (n={len(values)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
