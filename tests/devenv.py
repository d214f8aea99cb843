"""``make dev``: a working local environment in one command.

- Kubernetes: the cluster of the current ``KUBECONFIG`` when it answers, else the local
  control plane (built from source, started on loopback ports).
- PostgreSQL: ``DATABASE_URL`` when set, else a throwaway local server.
- With ``MC_DEV_OLLAMA=1``: a local Ollama (built from source) serving ``scripted-example``, a
  scripted model for trying the product without any LLM -- it is not a language model.
- Installs the CRDs and the approval admission policy, the ServiceAccount
  ``mission-control-agent`` of namespace ``default`` bound to ``view``, applies the migrations,
  writes an audit key and ``.dev/env`` (source it in another shell to run
  ``mission-control operator -A`` or kubectl against the same cluster), and keeps everything
  running until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.controlplane.launcher import Cluster, LocalControlPlane
from tests.support.ollama import EXAMPLE_TURNS, LocalOllama
from tests.support.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / ".dev"


def _say(message: str) -> None:
    print(f"[make dev] {message}", flush=True)


def _reachable_cluster() -> Cluster | None:
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    kubectl = shutil.which("kubectl")
    if kubectl is None or not Path(kubeconfig.split(os.pathsep)[0]).exists():
        return None
    cluster = Cluster(kubeconfig=Path(kubeconfig.split(os.pathsep)[0]), kubectl_path=kubectl)
    probe = cluster.kubectl("version", "--request-timeout=3s", check=False, timeout=10)
    return cluster if probe.returncode == 0 else None


def _agent_identity(cluster: Cluster, *, namespace: str) -> None:
    """The ServiceAccount Kubernetes tools impersonate by default, allowed to read only.

    Mutating Tasks need more: ``kubectl create rolebinding mission-control-agent-edit
    --clusterrole=edit --serviceaccount=NS:mission-control-agent -n NS``.
    """
    account = "mission-control-agent"
    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{account}-view"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "view",
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            },
        ],
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops everything as cleanly as Ctrl-C
    DEV.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        cluster = _reachable_cluster()
        if cluster is not None:
            _say(f"using the cluster of KUBECONFIG={cluster.kubeconfig}")
        else:
            plane = LocalControlPlane(workdir=DEV / "controlplane")
            stack.callback(plane.stop)
            cluster = plane.start()
            _say(f"local control plane up in {time.monotonic() - started:.1f}s at {cluster.server}")

        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            _say("using DATABASE_URL")
        else:
            postgres = stack.enter_context(LocalPostgres())
            database_url = postgres.url
            _say(f"local PostgreSQL up: {database_url}")

        ollama_lines: list[str] = []
        if os.environ.get("MC_DEV_OLLAMA") == "1":
            ollama = LocalOllama(workdir=DEV / "ollama")
            stack.callback(ollama.stop)
            ollama.start()
            model = ollama.create_scripted(EXAMPLE_TURNS, name="scripted-example")
            ollama_lines = [f"export OLLAMA_BASE_URL={ollama.url}", f"export OLLAMA_MODEL={model}"]
            _say(f"local Ollama up at {ollama.url} with {model} (a scripted model, not an LLM)")

        cluster.install_crds(ROOT / "crds")
        _say("CRDs and the approval admission policy installed")
        _agent_identity(cluster, namespace="default")
        _say(
            "ServiceAccount default/mission-control-agent bound to the view ClusterRole "
            "(Kubernetes tools act as it)"
        )
        audit_key = DEV / "audit-key"
        if not audit_key.exists():
            audit_key.write_text(secrets.token_hex(32))
            audit_key.chmod(0o600)

        env = {**os.environ, "DATABASE_URL": database_url, "KUBECONFIG": str(cluster.kubeconfig)}
        migrate = subprocess.run(
            [str(Path(sys.executable).parent / "mission-control"), "migrate"], env=env, check=False
        )
        if migrate.returncode != 0:
            _say("mission-control migrate failed (see above)")
            return 1

        env_file = DEV / "env"
        lines = [
            f"export KUBECONFIG={cluster.kubeconfig}",
            f"export DATABASE_URL={database_url}",
            f"export MC_AUDIT_KEY_FILE={audit_key}",
        ]
        lines += ollama_lines
        if cluster.ca is not None:  # the local control plane: use its own kubectl, same version
            lines.append(f"export PATH={Path(cluster.kubectl_path).parent}:$PATH")
        env_file.write_text("\n".join(lines) + "\n")
        _say(
            f"in another shell: source {env_file.relative_to(ROOT)} && mission-control operator -A"
        )
        _say(
            f"and in a third: source {env_file.relative_to(ROOT)} && "
            "kubectl apply -f manifests/examples/ && kubectl get taskruns -w"
        )
        _say("Ctrl-C stops everything")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
