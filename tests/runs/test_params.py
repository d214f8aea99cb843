"""``$(params.NAME)`` substitution: defaults, missing and unknown params, never evaluated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mission_control.resources.task import Param
from mission_control.runs.params import InvalidParams, substitute

DECLARED = [
    Param(name="namespace", default="default"),
    Param(name="app"),
]


@pytest.mark.parametrize(
    ("text", "given_values", "result"),
    [
        ("look in $(params.namespace)", {}, "look in default"),
        ("look in $(params.namespace)", {"namespace": "media"}, "look in media"),
        ("$(params.app) in $(params.namespace)", {"app": "web"}, "web in default"),
        ("$(params.app)/$(params.app)", {"app": "web"}, "web/web"),
        ("no placeholders", {"app": "web"}, "no placeholders"),
        ("$(params.app)", {"app": "$(params.namespace)"}, "$(params.namespace)"),
        ("$(params.app)", {"app": "$(echo hi) `rm -rf /` {{x}}"}, "$(echo hi) `rm -rf /` {{x}}"),
        ("$(PARAMS.app) and $(params.)", {"app": "x"}, "$(PARAMS.app) and $(params.)"),
    ],
)
def test_substitution(text: str, given_values: dict[str, str], result: str) -> None:
    assert substitute(text, declared=DECLARED, given=given_values) == result


@pytest.mark.parametrize(
    ("text", "given_values", "names", "message"),
    [
        ("restart $(params.app)", {}, ("app",), "param app has no value (no value given"),
        ("in $(params.region)", {"app": "x"}, ("region",), "region not declared by the Task"),
        ("x", {"app": "x", "zone": "a", "color": "b"}, ("color", "zone"),
         "the Task declares no param color, zone (it declares: app, namespace)"),
    ],
)  # fmt: skip
def test_invalid_params_name_the_params(
    text: str, given_values: dict[str, str], names: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidParams) as raised:
        substitute(text, declared=DECLARED, given=given_values)

    assert raised.value.names == names
    assert message in str(raised.value)


@given(st.text(max_size=200))
def test_values_are_inserted_as_they_are(value: str) -> None:
    assert substitute("<$(params.app)>", declared=DECLARED, given={"app": value}) == f"<{value}>"
