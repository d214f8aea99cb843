"""pytest plugin (``-p tests.deploy.identity_plugin``): the end-to-end operator authenticates
with the kubeconfig in ``MC_TEST_OPERATOR_KUBECONFIG`` instead of the admin certificate, and
checkpoints the audit chain in ``MC_TEST_OPERATOR_NAMESPACE``; kubectl in the tests stays admin.

Used by the least-privilege tests to run the e2e scenarios as the chart's ServiceAccount.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest

from tests.e2e import harness


def pytest_configure(config: pytest.Config) -> None:
    kubeconfig = os.environ.get("MC_TEST_OPERATOR_KUBECONFIG")
    if not kubeconfig:
        return
    namespace = os.environ["MC_TEST_OPERATOR_NAMESPACE"]
    original = harness.OperatorProcess.__init__

    def as_chart_identity(
        self: harness.OperatorProcess, *, env: Mapping[str, str], **others: Any
    ) -> None:
        identity = {"KUBECONFIG": kubeconfig, "MC_AUDIT_CHECKPOINT_NAMESPACE": namespace}
        original(self, env={**env, **identity}, **others)

    harness.OperatorProcess.__init__ = as_chart_identity  # type: ignore[method-assign]
