"""``--selector`` read as kopf's filter and evaluated on a label dict, as the webhook receiver
does for TaskTriggers: every kind of term, alone and together."""

from __future__ import annotations

import kopf
import pytest

from mission_control.handlers.sharding import matches, parse_selector, with_present

TRIGGER = "missioncontrol.dev/trigger"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("shard=a", {"shard": "a"}, True),
        ("shard=a", {"shard": "b"}, False),
        ("shard=a", {}, False),
        ("shard==a", {"shard": "a"}, True),
        ("shard!=a", {"shard": "b"}, True),
        ("shard!=a", {}, True),
        ("shard!=a", {"shard": "a"}, False),
        ("shard", {"shard": ""}, True),
        ("shard", {"other": "a"}, False),
        ("!unsharded", {"shard": "a"}, True),
        ("!unsharded", {"unsharded": "yes"}, False),
        ("shard=b,!unsharded", {"shard": "b"}, True),
        ("shard=b,!unsharded", {"shard": "b", "unsharded": ""}, False),
        ("shard=b,tier!=gold", {"shard": "b", "tier": "gold"}, False),
        ("shard=b,tier!=gold", {"shard": "b", "tier": "silver"}, True),
    ],
)
def test_a_selector_matches_labels_as_kubectl_reads_it(
    selector: str, labels: dict[str, str], expected: bool
) -> None:
    assert matches(parse_selector(selector), labels) is expected


def test_no_selector_matches_everything_and_missing_labels_are_none() -> None:
    assert matches(None, {"shard": "a"})
    assert matches({}, None)
    assert not matches(parse_selector("shard=a"), None)
    assert matches(parse_selector("!shard"), None)


def test_a_callable_term_gets_the_value_or_none() -> None:
    seen: list[str | None] = []

    def check(label: str | None, **_: object) -> bool:
        seen.append(label)
        return label is None

    assert matches({"a": check}, {})
    assert not matches({"a": check}, {"a": "x"})
    assert seen == [None, "x"]


def test_with_present_requires_the_label_and_keeps_the_selector() -> None:
    assert with_present(None, TRIGGER) == {TRIGGER: kopf.PRESENT}
    merged = with_present(parse_selector("shard=a"), TRIGGER)
    assert merged == {"shard": "a", TRIGGER: kopf.PRESENT}
    assert matches(merged, {"shard": "a", TRIGGER: "nightly"})
    assert not matches(merged, {"shard": "a"})
    assert not matches(merged, {"shard": "b", TRIGGER: "nightly"})


def test_with_present_keeps_a_selector_term_on_the_same_label() -> None:
    merged = with_present(parse_selector(f"{TRIGGER}!=nightly"), TRIGGER)
    assert matches(merged, {TRIGGER: "hourly"})
    assert not matches(merged, {TRIGGER: "nightly"})
    # The selector alone would take a run without the label; the handler needs it.
    assert not matches(merged, {})
    assert with_present(parse_selector(TRIGGER), TRIGGER) == {TRIGGER: kopf.PRESENT}
