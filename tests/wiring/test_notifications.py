"""The operator-wide receivers at start-up: one clear line naming the variable, never a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from mission_control.connectors.notify import AppriseSender
from mission_control.errors import ConfigError
from mission_control.settings import load_settings
from mission_control.wiring.notifications import operator_on, operator_receivers

CANARY = "canary41f0aa"


def receivers(path: Path) -> list[str]:
    settings = load_settings({"MC_NOTIFY_URLS_FILE": str(path)})
    return operator_receivers(settings, sender=AppriseSender())


def test_the_file_gives_one_receiver_per_line(tmp_path: Path) -> None:
    urls = tmp_path / "urls"
    urls.write_text(f"# pager\nntfys://ntfy.sh/{CANARY}\n\njson://hook.lan/{CANARY}\n")

    assert receivers(urls) == [f"ntfys://ntfy.sh/{CANARY}", f"json://hook.lan/{CANARY}"]
    assert operator_receivers(load_settings({}), sender=AppriseSender()) == []


def test_a_line_apprise_does_not_understand_is_named_by_number_and_service(
    tmp_path: Path,
) -> None:
    urls = tmp_path / "urls"
    urls.write_text(f"ntfys://ntfy.sh/ok\nslack://{CANARY}\n")

    with pytest.raises(ConfigError) as caught:
        receivers(urls)

    assert str(caught.value).startswith(
        f"MC_NOTIFY_URLS_FILE: receiver 2 of {urls}: a slack receiver's URL is not a valid "
        "Apprise URL"
    )
    assert CANARY not in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^MC_NOTIFY_URLS_FILE: cannot read .*FileNotFoundError"):
        receivers(tmp_path / "absent")


def test_the_operator_wide_transitions() -> None:
    assert operator_on("") == operator_on(" , ")
    assert "Succeeded" not in operator_on("")
    assert operator_on("Succeeded, Failed") == {"Succeeded", "Failed"}
    with pytest.raises(ConfigError, match=r"^MC_NOTIFY_ON: Done is not a transition"):
        operator_on("Failed,Done")


def test_the_public_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match=r"^MC_PUBLIC_URL: "):
        load_settings({"MC_PUBLIC_URL": "mission-control.lan"})
    assert load_settings({"MC_PUBLIC_URL": "https://mc.lan"}).notify.public_url == "https://mc.lan"
