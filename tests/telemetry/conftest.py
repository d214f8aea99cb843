"""The operator as users run it (every end-to-end fixture), for the telemetry tests."""

from tests.e2e.conftest import *  # noqa: F403  (fixtures are found by name in this module)
