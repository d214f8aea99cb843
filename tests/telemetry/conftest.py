"""The operator as users run it (the end-to-end fixtures), for the telemetry tests."""

from tests.e2e.conftest import (
    module_database,
    namespace_prefix,
    operator_process,
    pytest_runtest_makereport,
    scene,
)

__all__ = [
    "module_database",
    "namespace_prefix",
    "operator_process",
    "pytest_runtest_makereport",
    "scene",
]
