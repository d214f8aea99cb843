"""Shared test configuration: fixture modules live in ``tests/fixtures/`` and register here."""

pytest_plugins: list[str] = ["tests.fixtures.controlplane"]
