"""The web view's files: served without a token under a strict CSP, shipped in the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import httpx
import pytest

from mission_control.sidecar.webui import CONTENT_SECURITY_POLICY, UI_FILES
from tests.sidecar.harness import Sidecar

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def assert_ui_headers(headers: httpx.Headers) -> None:
    assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "no-referrer"
    assert headers.get("cache-control") == "no-cache"


async def test_every_ui_file_is_served_without_a_token_with_the_security_headers(
    sidecar: Sidecar,
) -> None:
    async with sidecar.anonymous() as anonymous:
        index = await anonymous.get("/ui/")
        files = {name: await anonymous.get(f"/ui/{name}") for name in UI_FILES}
        api = await anonymous.get("/api/v1/task-runs")

    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert_ui_headers(index.headers)
    for name, response in files.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"] == UI_FILES[name], name
        assert_ui_headers(response.headers)
    # The files hold no data; the data still needs the token.
    assert api.status_code == 401


async def test_answers_that_are_not_files_carry_the_headers_too(sidecar: Sidecar) -> None:
    async with sidecar.anonymous() as anonymous:
        bare = await anonymous.get("/ui")
        missing = await anonymous.get("/ui/secrets.txt")
        nested = await anonymous.get("/ui/a/../../api/v1/task-runs")
        deeper = await anonymous.get("/ui/a/b")

    assert (bare.status_code, bare.headers["location"]) == (308, "ui/")
    assert missing.status_code == 404
    assert deeper.status_code == 404
    assert nested.status_code in (401, 404)  # never a file from outside the view
    for response in (bare, missing, deeper):
        assert_ui_headers(response.headers)


async def test_an_unchanged_file_is_answered_304_by_its_etag(sidecar: Sidecar) -> None:
    async with sidecar.anonymous() as anonymous:
        first = await anonymous.get("/ui/app.js")
        again = await anonymous.get("/ui/app.js", headers={"If-None-Match": first.headers["etag"]})
        other = await anonymous.get("/ui/app.js", headers={"If-None-Match": '"stale"'})

    assert again.status_code == 304
    assert again.content == b""
    assert_ui_headers(again.headers)
    assert other.status_code == 200


def test_the_page_loads_nothing_inline_and_nothing_from_elsewhere() -> None:
    index = resources.files("mission_control.sidecar").joinpath("ui", "index.html").read_text()
    assert "<style" not in index
    assert "<script>" not in index
    assert " on" + "click=" not in index
    for name in UI_FILES:
        text = resources.files("mission_control.sidecar").joinpath("ui", name).read_text()
        assert "http://" not in text.replace('"http://www.w3.org/2000/svg"', ""), name
        assert "https://" not in text, name
        assert "innerHTML" not in text, name
        assert "EventSource" not in text.replace("EventSource cannot", ""), name


@pytest.mark.slow
def test_the_wheel_ships_the_ui_files(tmp_path: Path) -> None:
    # Built from a copy: an in-tree build would leave build/ behind, whose stale files a later
    # build could pick up.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "operator", source / "operator", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("mission_control-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"mission_control/sidecar/ui/{name}" for name in UI_FILES} <= names
