"""A local Kubernetes control plane for tests and development, without Docker.

Does what envtest does, with programs built from source by ``build.sh``: etcd,
kube-apiserver (RBAC, service-account keys, client-certificate authentication) and
kube-controller-manager (namespace, garbage-collector, deployment, replicaset, service-account
and ClusterRole-aggregation controllers). There is no scheduler and no kubelet: pods stay Pending
unless a test binds them to a node it registers itself.

    with LocalControlPlane(workdir=Path("/tmp/cp")) as cp:
        cp.kubectl("get", "namespaces")

Run ``python -m tests.controlplane.launcher DIR`` to start one and keep it running.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.pki import CertificateAuthority, KeyPair, write_rsa_key_pair
from tests.support.processes import (
    exited,
    free_port,
    run_build,
    serve_for_development,
    spawn,
    start_retrying,
    stop_process,
    tail,
    wait_until,
)

__all__ = ["Cluster", "LocalControlPlane", "build_binaries"]

HERE = Path(__file__).resolve().parent
CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "deployment-controller",
    "replicaset-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    # Fills the built-in view/edit/admin ClusterRoles, which agents' ServiceAccounts bind to.
    "clusterrole-aggregation-controller",
)
SERVICE_CIDR = "10.96.0.0/16"
START_TIMEOUT = 120.0
#: How many times a start is tried when a component lost its port (see start_retrying).
START_ATTEMPTS = 3


def build_binaries() -> Path:
    """Build (or find cached) etcd, kube-apiserver, kube-controller-manager and kubectl."""
    return run_build(
        HERE / "build.sh",
        failure="building the local control plane failed (see the go output above); it needs "
        "Go >= 1.26 and the Go module proxy, or set MC_TEST_KUBECONFIG to use a cluster",
    )


@dataclass
class Cluster:
    """A reachable cluster: its kubeconfig and a kubectl to drive it."""

    kubeconfig: Path
    kubectl_path: str = "kubectl"
    server: str = ""
    #: The local CA (issues serving certificates for fake kubelets); None for external clusters.
    ca: CertificateAuthority | None = None

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        user: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; ``user`` is impersonated (``--as``)."""
        command = [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args]
        if user is not None:
            command.append(f"--as={user}")
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    def install_crds(self, directory: Path) -> None:
        """Server-side apply everything in ``directory`` and wait until the CRDs are Established."""
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(directory))
        self.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/tasks.missioncontrol.dev",
            "crd/taskruns.missioncontrol.dev",
            "crd/toolpolicies.missioncontrol.dev",
            "crd/clustertoolpolicies.missioncontrol.dev",
        )


@dataclass
class LocalControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on free loopback ports in ``workdir``."""

    workdir: Path
    bin_dir: Path | None = None
    cluster: Cluster | None = None
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Cluster:
        """Start every component and wait until the cluster answers; stop them all on failure.

        A component that lost its port to another process is retried on fresh ports.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        bin_dir = self.bin_dir or build_binaries()
        return start_retrying(
            lambda: self._start_once(bin_dir),
            # Never leave a half-started control plane running. Nothing in it is worth a
            # graceful shutdown, and an API server that lost etcd ignores SIGTERM for long.
            stop=lambda: self.stop(grace=1.0),
            attempts=START_ATTEMPTS,
            # etcd's data directory remembers the old peer URL: start it afresh.
            before_retry=lambda: shutil.rmtree(self.workdir / "etcd", ignore_errors=True),
        )

    def _start_once(self, bin_dir: Path) -> Cluster:
        pki = self.workdir / "pki"
        ca = CertificateAuthority(pki)
        serving = ca.serving(
            "apiserver",
            hosts=(
                "127.0.0.1",
                "localhost",
                "10.96.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
        )
        admin = ca.issue(
            "admin", common_name="admin", organizations=("system:masters",), client=True
        )
        kcm = ca.issue(
            "controller-manager", common_name="system:kube-controller-manager", client=True
        )
        kubelet_client = ca.issue(
            "apiserver-kubelet-client",
            common_name="kube-apiserver-kubelet-client",
            organizations=("system:masters",),
            client=True,
        )
        sa_keys = write_rsa_key_pair(pki, "service-account")

        etcd_port, peer_port, api_port, kcm_port = (free_port() for _ in range(4))
        server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "etcd",
            [
                str(bin_dir / "etcd"),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # The endpoint reconciler refuses loopback addresses; nothing here needs the
                # kubernetes Service endpoints, so turn it off (as envtest does).
                "--endpoint-reconciler-type=none",
                f"--secure-port={api_port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={ca.cert}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_keys.cert}",
                f"--service-account-signing-key-file={sa_keys.key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                "--v=1",
            ],
        )
        self.cluster = Cluster(
            kubeconfig=self._write_kubeconfig("admin.kubeconfig", server=server, ca=ca, user=admin),
            kubectl_path=str(bin_dir / "kubectl"),
            server=server,
            ca=ca,
        )
        wait_until(
            lambda: self._get(server, "/readyz", ca=ca, user=admin) == 200,
            timeout=START_TIMEOUT,
            what=f"kube-apiserver /readyz at {server}",
            alive=self._dead,
        )
        kcm_kubeconfig = self._write_kubeconfig("kcm.kubeconfig", server=server, ca=ca, user=kcm)
        self._spawn(
            "kube-controller-manager",
            [
                str(bin_dir / "kube-controller-manager"),
                f"--kubeconfig={kcm_kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                "--leader-elect=false",
                # Each controller uses its own service account and bootstrap RBAC role, as in a
                # real cluster (the namespace controller needs deletecollection everywhere).
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa_keys.key}",
                f"--root-ca-file={ca.cert}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                "--v=1",
            ],
        )
        wait_until(
            lambda: self._get(server, "/api/v1/namespaces/default", ca=ca, user=admin) == 200,
            timeout=START_TIMEOUT,
            what="the default namespace",
            alive=self._dead,
        )
        return self.cluster

    def stop(self, *, grace: float = 10.0) -> None:
        """Stop every component: SIGTERM, then SIGKILL after ``grace`` seconds."""
        # Reverse order: clients first, etcd last, so nothing logs a storm of errors.
        for name in reversed(list(self._processes)):
            stop_process(self._processes.pop(name), grace=grace)

    def logs(self, *, lines: int = 40) -> str:
        """The tail of each component's log, for failing tests."""
        parts = []
        for log in sorted(self.workdir.glob("*.log")):
            parts.append(f"--- {log.name} (last {lines} lines) ---\n{tail(log, lines=lines)}")
        return "\n".join(parts)

    # -- internals -------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> None:
        self._processes[name] = spawn(command, log=self.workdir / f"{name}.log", cwd=self.workdir)

    def _dead(self) -> str | None:
        for name, process in self._processes.items():
            if reason := exited(name, process, log=self.workdir / f"{name}.log", lines=30):
                return reason
        return None

    @staticmethod
    def _get(server: str, path: str, *, ca: CertificateAuthority, user: KeyPair) -> int:
        context = ssl.create_default_context(cafile=str(ca.cert))
        context.load_cert_chain(str(user.cert), str(user.key))
        try:
            # Short: a probe stuck on an API server whose etcd died delays noticing the death.
            with urllib.request.urlopen(server + path, context=context, timeout=1) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError):
            return 0

    def _write_kubeconfig(
        self, name: str, *, server: str, ca: CertificateAuthority, user: KeyPair
    ) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": server, "certificate-authority": str(ca.cert)},
                }
            ],
            "users": [
                {
                    "name": "user",
                    "user": {"client-certificate": str(user.cert), "client-key": str(user.key)},
                }
            ],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "user"}}],
            "current-context": "local",
        }
        path = self.workdir / name
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path


def main(argv: list[str]) -> int:
    """Start a control plane in ``argv[0]`` (default ./.dev/controlplane) until interrupted."""
    plane = LocalControlPlane(workdir=Path(argv[0] if argv else ".dev/controlplane").resolve())

    def start() -> tuple[str, str]:
        cluster = plane.start()
        return cluster.server, f"KUBECONFIG={cluster.kubeconfig}"

    return serve_for_development(
        name="control plane", start=start, stop=plane.stop, logs=plane.logs
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
