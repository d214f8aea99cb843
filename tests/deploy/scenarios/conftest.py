"""The end-to-end fixtures (operator process, scene, database), shared with tests/e2e."""

from tests.e2e.conftest import *  # noqa: F403
