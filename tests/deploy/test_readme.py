"""The README's configuration reference for the chart agrees with values.schema.json (every
value listed, nothing listed that does not exist) and names only variables of .env.example."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.deploy.chart import CHART, ROOT

README = ROOT / "README.md"


def _table(heading: str) -> list[list[str]]:
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # past the header and its rule


def _leaves(node: dict[str, Any], path: str = "") -> set[str]:
    # Closed objects are the chart's own sections; `resources` is Kubernetes' type, one value.
    if node.get("additionalProperties") is False and not path.endswith("resources"):
        return {
            leaf
            for key, child in node["properties"].items()
            for leaf in _leaves(child, f"{path}.{key}" if path else key)
        }
    return {path}


def test_every_chart_value_is_in_the_readme_and_nothing_else() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    listed = {
        name for row in _table("### Chart values") for name in re.findall(r"`([A-Za-z.]+)`", row[0])
    }
    assert listed == _leaves(schema)


def test_the_variables_the_readme_says_values_set_are_real() -> None:
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    named = {
        variable
        for row in _table("### Chart values")
        for variable in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[3])
    }
    assert named
    assert named <= example, sorted(named - example)
