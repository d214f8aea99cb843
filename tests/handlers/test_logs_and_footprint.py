"""Log lines name the run they belong to; kopf's settings put nothing of kopf's on our objects."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import kopf
import pytest
import urllib3

from mission_control.handlers import FINALIZER, configure_kopf, configure_logging
from mission_control.handlers.logs import bind_run, unbind_run
from tests.fakes.server import FakeServer, Reply


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
async def test_json_lines_carry_the_run_of_the_task_that_logged_them() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", log_format="json", stream=stream)
    log = logging.getLogger("mission_control.agent.example")

    async def run(name: str) -> None:
        token = bind_run(namespace="ops", name=name)
        try:
            await asyncio.sleep(0)  # interleave the two runs
            log.info("step %d of %s", 1, name)
        finally:
            unbind_run(token)

    await asyncio.gather(run("first"), run("second"))
    log.info("between runs")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line.get("namespace"), line.get("name"), line["message"]) for line in lines] == [
        ("ops", "first", "step 1 of first"),
        ("ops", "second", "step 1 of second"),
        (None, None, "between runs"),
    ]
    assert {"time", "level", "logger"} <= set(lines[0])


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_show_kopfs_object_when_no_run_is_bound() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", log_format="text", stream=stream)

    logging.getLogger("mission_control.handlers").warning(
        "judged", extra={"k8s_ref": {"namespace": "ops", "name": "diagnose"}}
    )

    line = stream.getvalue().strip()
    assert line.endswith("WARNING mission_control.handlers [ops/diagnose] judged")


def test_kopfs_footprint_is_ours() -> None:
    settings = kopf.OperatorSettings()

    configure_kopf(settings)

    assert settings.persistence.finalizer == FINALIZER == "missioncontrol.dev/finalizer"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.persistence.progress_storage.prefix == "missioncontrol.dev"
    assert settings.persistence.diffbase_storage.prefix == "missioncontrol.dev"  # type: ignore[attr-defined]
    assert settings.posting.enabled is False


@pytest.mark.usefixtures("restore_logging")
def test_debug_logging_never_writes_the_paths_http_clients_request() -> None:
    # A webhook receiver's token is part of its path (Apprise URLs, e.g. ntfy topics), and
    # urllib3 (under requests, which Apprise uses, and the kubernetes client) logs each
    # request's path at DEBUG.
    canary = "canary0d3f5e"
    kept = logging.getLogger("urllib3").level
    stream = io.StringIO()
    configure_logging(level="DEBUG", log_format="text", stream=stream)
    try:
        with FakeServer() as receiver:
            receiver.route("POST", r"/hooks/.*", lambda request, match: Reply(200, {}))
            answer = urllib3.PoolManager().request("POST", f"{receiver.url}/hooks/{canary}")
        logging.getLogger("mission_control.handlers").debug("our own debug line")
    finally:
        logging.getLogger("urllib3").setLevel(kept)

    assert answer.status == 200
    assert "our own debug line" in stream.getvalue()  # DEBUG is on for our code
    assert canary not in stream.getvalue()
