"""What users install stays in step across the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


CHART = ROOT / "helm" / "mission-control"


def _charted(path: Path) -> Path:
    """Where the chart carries a file of crds/: CRDs in its crds/ (Helm installs them first and
    never deletes them), the admission policies in admission/ (rendered by a template, since
    Helm's crds/ may hold CustomResourceDefinitions only)."""
    is_crd = "\nkind: CustomResourceDefinition\n" in path.read_text()
    return CHART / ("crds" if is_crd else "admission") / path.name


@pytest.mark.parametrize("path", sorted((ROOT / "crds").glob("*.yaml")), ids=lambda p: p.name)
def test_helm_chart_carries_the_same_crds(path: Path) -> None:
    charted = _charted(path)
    assert charted.exists(), f"copy crds/{path.name} into the chart (make crds)"
    assert charted.read_text() == path.read_text(), f"copy crds/{path.name} into the chart"


def test_the_chart_has_no_crd_that_the_repository_lacks() -> None:
    charted = {
        p.relative_to(CHART) for d in ("crds", "admission") for p in (CHART / d).glob("*.yaml")
    }
    ours = {_charted(p).relative_to(CHART) for p in (ROOT / "crds").glob("*.yaml")}
    # kopf's peering CRDs (for replicaCount > 1) are copied as they are.
    peering = {Path("crds") / p.name for p in (ROOT / "crds" / "peering").glob("*.yaml")}
    assert charted == ours | peering


def test_helm_chart_carries_kopfs_peering_crds() -> None:
    for path in (ROOT / "crds" / "peering").glob("*.yaml"):
        assert (CHART / "crds" / path.name).read_text() == path.read_text(), (
            f"copy crds/peering/{path.name} into the chart (make crds)"
        )


def test_the_wheel_carries_the_migrations_and_the_console_script(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            str(ROOT),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("mission_control-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    migrations = sorted(
        p.name
        for p in (ROOT / "operator/mission_control/store/migrations").iterdir()
        if p.suffix == ".sql"
    )
    assert migrations, "no migrations found in the source tree"
    for name in migrations:
        assert f"mission_control/store/migrations/{name}" in names
    assert "mission_control/py.typed" in names
    [entry_points] = [n for n in names if n.endswith("entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mission-control = mission_control.cli:main" in scripts
    # kubectl finds plugins by executable name: `kubectl mc approve` runs kubectl-mc.
    assert "kubectl-mc = mission_control.approval_cli:plugin_main" in scripts
