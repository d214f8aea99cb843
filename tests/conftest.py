"""Shared test configuration: fixture modules live in ``tests/fixtures/`` and register here."""

pytest_plugins: list[str] = [
    "tests.fixtures.controlplane",
    "tests.fixtures.fakes_tools",
    "tests.fixtures.kubelet",
    "tests.fixtures.llm",
    "tests.fixtures.postgres",
    "tests.fixtures.prometheus",
]
