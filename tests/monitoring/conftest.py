"""The operator as users run it (every end-to-end fixture) and the helm the tests build."""

from tests.deploy.conftest import helm  # noqa: F401  (fixtures are found by name)
from tests.e2e.conftest import *  # noqa: F403
