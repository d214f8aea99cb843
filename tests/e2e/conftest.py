"""End-to-end fixtures: the real control plane, PostgreSQL and Ollama, and the operator process.

One operator per test module (``operator_for_module``), started exactly as a user starts it:
``mission-control operator -n 'e2e-XXXX-*'`` with its configuration in the environment, a
database of the module's own (migrated with ``mission-control migrate``) and an audit key
file. Each test gets a :class:`~tests.e2e.harness.Scene`: a namespace of its own that matches
the operator's pattern, so tests do not see each other's objects.

A module sets ``OPERATOR_ENV`` (a fixture) to add settings, e.g. a Gemini double's URL.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import Generator, Iterator

import psycopg
import pytest
from psycopg import sql

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import (
    OperatorProcess,
    Scene,
    mission_control,
    operator_env,
    start_watching_namespaces,
)
from tests.support.ollama import LocalOllama
from tests.support.postgres import url_with_database
from tests.support.prometheus import PrometheusServer

_OPERATOR_KEY = pytest.StashKey[OperatorProcess]()


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    """Settings a module adds to the operator's environment (override in the module)."""
    return {}


@pytest.fixture(scope="module")
def operator_args() -> tuple[str, ...]:
    """Command-line arguments a module adds to the operator's (override in the module)."""
    return ()


@pytest.fixture(scope="module")
def module_database(postgres_url: str) -> Iterator[str]:
    """A database of the module's own, migrated the way users migrate it."""
    name = f"mc_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = url_with_database(postgres_url, name)
    subprocess.run(
        [mission_control(), "migrate"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    try:
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def namespace_prefix() -> str:
    return f"e2e-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def operator_process(
    request: pytest.FixtureRequest,
    crds: Cluster,
    module_database: str,
    ollama_server: LocalOllama,
    namespace_prefix: str,
    operator_extra_env: dict[str, str],
    operator_args: tuple[str, ...],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    workdir = tmp_path_factory.mktemp("operator")
    key = workdir / "audit-key"
    key.write_text(secrets.token_hex(32))
    env = operator_env(
        os.environ,
        {
            "KUBECONFIG": str(crds.kubeconfig),
            "DATABASE_URL": module_database,
            "OLLAMA_BASE_URL": ollama_server.url,
            "MC_AUDIT_KEY_FILE": str(key),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            **operator_extra_env,
        }.items(),
    )
    process = OperatorProcess(
        namespaces=f"{namespace_prefix}-*",
        env=env,
        log=workdir / "operator.log",
        args=operator_args,
    )
    request.config.stash[_OPERATOR_KEY] = process
    start_watching_namespaces(crds, process)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def scraper(
    operator_process: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the module's operator every second."""
    workdir = tmp_path_factory.mktemp("prometheus-operator")
    with PrometheusServer(
        workdir=workdir, scrape=f"127.0.0.1:{operator_process.metrics_port}"
    ) as server:
        yield server


@pytest.fixture
def scene(
    crds: Cluster, operator_process: OperatorProcess, module_database: str, namespace_prefix: str
) -> Iterator[Scene]:
    made = Scene.create(
        cluster=crds,
        prefix=namespace_prefix,
        database_url=module_database,
        operator=operator_process,
    )
    try:
        yield made
    finally:
        made.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    process = item.config.stash.get(_OPERATOR_KEY, None)
    if report.failed and process is not None and "scene" in getattr(item, "fixturenames", ()):
        report.sections.append(("operator log", process.logs(lines=40)))
    return report
