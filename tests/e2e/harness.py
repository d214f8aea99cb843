"""The operator as users run it, and kubectl as users drive it, for the end-to-end tests.

:class:`OperatorProcess` starts ``mission-control operator -n PREFIX-*`` as a subprocess with
its configuration in the environment, and waits for its liveness endpoint. :class:`Scene` is
one test's namespace (with the ``mission-control-agent`` ServiceAccount bound to ``view``), and
the kubectl commands users type: ``apply -f``, ``get -w`` (captured by :class:`Watch`),
``wait``, ``describe``, ``patch``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import yaml

import mission_control as mission_control_package
from tests.controlplane.launcher import Cluster
from tests.support.processes import die_with_parent, free_port, stop_process, tail, wait_until
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import pod

if TYPE_CHECKING:  # a pytest plugin: imported by the identity plugin before assertion rewriting
    from tests.fixtures.ollama import ScriptedModelFactory

__all__ = [
    "OperatorProcess",
    "Scene",
    "Watch",
    "hold_a_delete",
    "look_then_hold_a_delete",
    "mission_control",
    "operator_env",
    "task",
    "taskrun",
]

AGENT_SERVICE_ACCOUNT = "mission-control-agent"


def mission_control() -> str:
    """The console script installed next to the interpreter running the tests."""
    return str(Path(sys.executable).parent / "mission-control")


class OperatorProcess:
    """``mission-control operator`` in a subprocess; its log lines go to ``log``."""

    def __init__(
        self, *, namespaces: str, env: Mapping[str, str], log: Path, args: Iterable[str] = ()
    ) -> None:
        self.namespaces = namespaces
        #: More command-line arguments (``--selector``, ``--peering``...).
        self.args = list(args)
        self.env = dict(env)
        self.log = log
        self.port = free_port()
        #: Where the operator serves its Prometheus metrics (unless the test's env says).
        self.metrics_port = int(self.env.setdefault("MC_METRICS_PORT", str(free_port())))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            mission_control(),
            "operator",
            "-n",
            self.namespaces,
            "--liveness",
            f"http://127.0.0.1:{self.port}/healthz",
            *self.args,
        ]
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        wait_until(
            self._live, timeout=60, what="the operator's liveness endpoint", alive=self._dead
        )

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=15)

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost node would: no clean-up at all."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=30)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def _dead(self) -> str | None:
        code = self.returncode()
        return None if code is None else f"the operator exited with {code}:\n{self.logs()}"

    def _live(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def logs(self, *, lines: int = 60) -> str:
        return tail(self.log, lines=lines)

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON log line so far (other lines are skipped)."""
        parsed = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    continue
        return parsed


def _namespace_watches(cluster: Cluster) -> int:
    """Open watches of namespaces, from the API server's ``apiserver_longrunning_requests``."""
    total = 0
    for line in cluster.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        if (
            line.startswith("apiserver_longrunning_requests{")
            and 'resource="namespaces"' in line
            and 'verb="WATCH"' in line
        ):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def start_watching_namespaces(cluster: Cluster, process: OperatorProcess) -> None:
    """Start ``process`` and return once it watches namespaces.

    kopf lists namespaces, then starts its watch with a listing of its own whose objects it
    ignores: a namespace created between the two is not noticed until it changes, and the
    first test of a module creates its namespace right then (a stall of minutes, seen in about
    one start in twenty). Waiting for the watch itself closes that window.
    """
    low = _namespace_watches(cluster)

    def watching() -> bool:
        nonlocal low
        now = _namespace_watches(cluster)
        low = min(low, now)  # a stopped operator's watch may close meanwhile
        return now > low

    process.start()
    wait_until(watching, timeout=60, what="the operator to watch namespaces")


@contextmanager
def another_operator(
    first: OperatorProcess,
    *,
    log: Path,
    args: Iterable[str],
    env: Mapping[str, str] | None = None,
) -> Iterator[OperatorProcess]:
    """A second operator serving ``first``'s namespaces with its environment (plus ``env``, and
    a metrics port of its own), started; stopped on leaving."""
    inherited = {k: v for k, v in first.env.items() if k != "MC_METRICS_PORT"}
    process = OperatorProcess(
        namespaces=first.namespaces, env={**inherited, **(env or {})}, log=log, args=args
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


class Watch:
    """``kubectl get taskruns -w`` running in the background; ``lines`` is what it printed."""

    def __init__(self, cluster: Cluster, *, namespace: str, columns: bool = True) -> None:
        args = ["get", "taskruns", "-n", namespace, "-w"]
        if not columns:
            args += ["-o", "json"]
        self._process = subprocess.Popen(
            [cluster.kubectl_path, f"--kubeconfig={cluster.kubeconfig}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> list[str]:
        """Stop watching (again is fine); every line printed so far."""
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._reader.join(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        return list(self.lines)

    def wait_for_reason(self, name: str, reason: str, *, timeout: float = 30) -> None:
        """Wait until the watch printed a row of ``name`` with that REASON (kubectl prints
        each change a moment after the API server has it)."""
        wait_until(
            lambda: any(row.get("REASON") == reason for row in self.rows(name)),
            timeout=timeout,
            what=f"kubectl get -w to show {name} {reason}",
        )

    def rows(self, name: str) -> list[dict[str, str]]:
        """The watched rows of TaskRun ``name`` as column -> value."""
        if not self.lines:
            return []
        header = self.lines[0].split()
        rows = []
        for line in self.lines[1:]:
            cells = line.split()
            if cells and cells[0] == name and len(cells) == len(header):
                rows.append(dict(zip(header, cells, strict=True)))
        return rows


@dataclass
class Scene:
    """One test's namespace and the kubectl commands a user types in it."""

    cluster: Cluster
    namespace: str
    database_url: str
    operator: OperatorProcess
    watches: list[Watch] = field(default_factory=list)

    @classmethod
    def create(
        cls, *, cluster: Cluster, prefix: str, database_url: str, operator: OperatorProcess
    ) -> Scene:
        namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
        cluster.kubectl("create", "namespace", namespace)
        cluster.kubectl("create", "serviceaccount", AGENT_SERVICE_ACCOUNT, "-n", namespace)
        cluster.kubectl(
            "create",
            "rolebinding",
            f"{AGENT_SERVICE_ACCOUNT}-view",
            "--clusterrole=view",
            f"--serviceaccount={namespace}:{AGENT_SERVICE_ACCOUNT}",
            "-n",
            namespace,
        )
        return cls(
            cluster=cluster, namespace=namespace, database_url=database_url, operator=operator
        )

    def close(self) -> None:
        for watch in self.watches:
            watch.stop()
        self.cluster.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 150
    ) -> str:
        return self.cluster.kubectl(
            *args, "-n", self.namespace, input=input, check=check, timeout=timeout
        ).stdout

    def apply(self, *documents: Mapping[str, Any] | str) -> str:
        """``kubectl apply -f -`` of YAML texts or objects (as a user's manifest file)."""
        texts = [d if isinstance(d, str) else yaml.safe_dump(dict(d)) for d in documents]
        return self.kubectl("apply", "-f", "-", input="\n---\n".join(texts))

    def watch(self, *, columns: bool = True) -> Watch:
        watch = Watch(self.cluster, namespace=self.namespace, columns=columns)
        self.watches.append(watch)
        return watch

    # Two minutes: a generous bound on a loaded machine (the e2e fixture waits for the
    # operator's namespace watch first; see ``start_watching_namespaces``).
    def wait(self, name: str, *, condition: str = "Succeeded", timeout: int = 120) -> str:
        """``kubectl wait --for=condition=...`` on a TaskRun (``Succeeded=false`` works too)."""
        return self.kubectl(
            "wait", f"--for=condition={condition}", f"--timeout={timeout}s", f"taskrun/{name}"
        )

    def wait_for(self, name: str, *, jsonpath: str, value: str, timeout: int = 120) -> str:
        return self.kubectl(
            "wait",
            f"--for=jsonpath={jsonpath}={value}",
            f"--timeout={timeout}s",
            f"taskrun/{name}",
        )

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", kind, name, "-o", "json")))

    def reject_pending(self, name: str) -> dict[str, Any]:
        """Reject the call TaskRun ``name`` holds, as the kubectl user; returns what was held."""
        pending: dict[str, Any] = self.get("taskrun", name)["status"]["pendingApproval"]
        rejection = {
            "toolCallId": pending["toolCallId"],
            "decision": "Reject",
            "by": self.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"),
            "argsDigest": pending["argsDigest"],
        }
        self.kubectl(
            "patch", "taskrun", name, "--type=merge", "-p",
            json.dumps({"spec": {"approvals": [rejection]}}),
        )  # fmt: skip
        return pending

    def describe(self, kind: str, name: str) -> str:
        return self.kubectl("describe", kind, name)

    def tool_results(self, run: str) -> list[str]:
        """What the model was told for each of its calls in TaskRun ``run`` (the journal)."""
        uid = self.get("taskrun", run)["metadata"]["uid"]
        with psycopg.connect(self.database_url) as db:
            rows = db.execute(
                "SELECT payload->'messages' FROM task_events WHERE run_uid = %s "
                "AND payload ? 'messages' ORDER BY seq",
                (uid,),
            ).fetchall()
        return [str(m["content"]) for (msgs,) in rows for m in msgs if m.get("role") == "tool"]

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about object ``name``, oldest first."""
        listed = json.loads(
            self.kubectl(
                "get",
                "events",
                "--field-selector",
                f"involvedObject.name={name}",
                "-o",
                "json",
            )
        )
        # Timestamps have seconds only; the resource version orders creations.
        items = sorted(listed["items"], key=lambda e: int(e["metadata"]["resourceVersion"]))
        return [(e["type"], e["reason"], e.get("message", "")) for e in items]


def task(name: str, *, model: str | None = None, **spec: Any) -> dict[str, Any]:
    """A Task manifest; ``model`` is an Ollama model name."""
    body: dict[str, Any] = {"prompt": "Look around.", "tools": ["list_k8s_pods"], **spec}
    if model is not None:
        body.setdefault("model", {"provider": "ollama", "name": model})
    return {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "Task",
        "metadata": {"name": name},
        "spec": body,
    }


def taskrun(name: str, *, task_name: str | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(spec)
    if task_name is not None:
        body["taskRef"] = {"name": task_name}
    return {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": body,
    }


def operator_env(base: Mapping[str, str], extra: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """The operator's environment: nothing inherited but what a process needs to run."""
    keep = {name: base[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in base}
    # The code under test, wherever the console script's own install points (a worktree
    # shares the virtualenv of another checkout).
    keep["PYTHONPATH"] = str(Path(mission_control_package.__file__).resolve().parents[1])
    # A port of its own for the metrics, so operators started side by side do not collide.
    return {**keep, "PYTHONUNBUFFERED": "1", "MC_METRICS_PORT": str(free_port()), **dict(extra)}


def hold_a_delete(
    scene: Scene, scripted_model: ScriptedModelFactory, *, name: str = "evict"
) -> str:
    """TaskRun ``{name}-1`` of Task ``name`` holding ``delete_k8s_pod`` of pod ``stale-0`` for
    approval (the agent may edit the namespace; the scripted model calls it, then says
    "Deleted stale-0."); returns the held call's tool call id."""
    ns = scene.namespace
    scene.kubectl(
        "create", "rolebinding", "agent-edit", "--clusterrole=edit",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip
    scene.apply(pod("stale-0"))
    model = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name="stale-0"), say("Deleted stale-0.")]
    )
    scene.apply(
        task(name, model=model, prompt="Delete stale-0.", tools=["delete_k8s_pod"]),
        taskrun(f"{name}-1", task_name=name),
    )
    scene.wait_for(
        f"{name}-1",
        jsonpath="{.status.conditions[0].reason}",
        value="AwaitingApproval",
        timeout=120,
    )
    return str(scene.get("taskrun", f"{name}-1")["status"]["pendingApproval"]["toolCallId"])


def look_then_hold_a_delete(
    scene: Scene,
    scripted_model: ScriptedModelFactory,
    *,
    name: str = "look",
    prompt: str = "Look.",
    answer: str = "Nothing to delete after all.",
) -> str:
    """TaskRun ``{name}-1`` of Task ``name``: the scripted model lists the pods (allowed), asks
    to delete pod ``web-0`` (held for approval: this returns then) and, once the call is
    decided, says ``answer``. Returns the model's name."""
    ns = scene.namespace
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace=ns),
            call("delete_k8s_pod", namespace=ns, name="web-0"),
            say(answer),
        ]
    )
    scene.apply(
        task(name, model=model, prompt=prompt, tools=["list_k8s_pods", "delete_k8s_pod"]),
        taskrun(f"{name}-1", task_name=name),
    )
    scene.wait_for(f"{name}-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")
    return model
