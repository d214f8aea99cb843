"""Rendering the chart with the helm the tests build (tests/helm/build.sh)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "mission-control"
ALL_OPTIONS = CHART / "ci" / "all-options-values.yaml"
INSTALL_YAML = ROOT / "manifests" / "install.yaml"
#: The API the stamping admission policy needs; the local control plane (1.37) serves it.
MUTATING_POLICY_API = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"
#: How manifests/install.yaml is rendered: default values, Kubernetes >= 1.36.
INSTALL_ARGS = ("mission-control", "--namespace", "mission-control")


def build_helm() -> Path:
    """The helm binary (built on first use, then cached outside the checkout)."""
    result = subprocess.run(
        ["bash", str(ROOT / "tests" / "helm" / "build.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tests/helm/build.sh failed:\n{result.stderr}")
    return Path(result.stdout.strip()) / "helm"


@dataclass(frozen=True)
class Helm:
    """The helm command, run against the chart in the checkout."""

    path: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.path), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            # No user configuration or repositories: the same render on every machine.
            env={"HOME": "/nonexistent", "PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": "/tmp/h"},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def template(
        self, *args: str, release: str = "mission-control", namespace: str = "mission-control"
    ) -> str:
        return self.run(
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--api-versions",
            MUTATING_POLICY_API,
            *args,
        ).stdout

    def install_yaml(self) -> str:
        """What manifests/install.yaml must hold: the chart with its default values."""
        header = (
            "# Mission Control, rendered from helm/mission-control with its default values\n"
            "# (release mission-control, namespace mission-control, Kubernetes >= 1.36).\n"
            "# Do not edit: regenerate with `python -m tests.deploy.render_install`.\n"
            "# Create the Secret mission-control/mission-control too (see the README).\n"
            "---\n"
            "apiVersion: v1\n"
            "kind: Namespace\n"
            "metadata:\n"
            "  name: mission-control\n"
        )
        rendered = self.template(
            "--include-crds", release=INSTALL_ARGS[0], namespace=INSTALL_ARGS[2]
        )
        return header + rendered


def documents(text: str) -> list[dict[str, Any]]:
    """The rendered objects, empty documents dropped."""
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return found
