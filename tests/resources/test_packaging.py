"""What users install stays in step across the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "crds").glob("*.yaml")), ids=lambda p: p.name)
def test_helm_chart_carries_the_same_crds(path: Path) -> None:
    charted = ROOT / "helm" / "mission-control" / "crds" / path.name
    assert charted.read_text() == path.read_text(), f"copy crds/{path.name} into the chart"


def test_the_chart_has_no_crd_that_the_repository_lacks() -> None:
    charted = {p.name for p in (ROOT / "helm" / "mission-control" / "crds").glob("*.yaml")}
    assert charted == {p.name for p in (ROOT / "crds").glob("*.yaml")}
