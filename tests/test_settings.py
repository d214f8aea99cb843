"""Configuration: every variable is documented, problems are one clear line, secrets stay hidden."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mission_control.errors import ConfigError
from mission_control.settings import _SECTIONS, load_settings

ROOT = Path(__file__).resolve().parents[1]


def environment_variables() -> list[str]:
    names = []
    for model in _SECTIONS.values():
        prefix = model.model_config.get("env_prefix", "")
        for field, info in model.model_fields.items():
            alias = info.validation_alias
            names.append(alias if isinstance(alias, str) else f"{prefix}{field}".upper())
    return names


def test_every_setting_is_listed_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert sorted(set(environment_variables()) - documented) == []


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.operator.max_concurrent_runs == 20
    assert settings.operator.inventory_refresh_seconds == 60
    assert settings.gemini.requests_per_minute == 15


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"MC_MAX_CONCURRENT_RUNS": "many"}, "MC_MAX_CONCURRENT_RUNS"),
        ({"MC_MAX_CONCURRENT_RUNS": "0"}, "MC_MAX_CONCURRENT_RUNS"),
        ({"PROXMOX_API_TOKEN": "just-a-secret"}, "PROXMOX_API_TOKEN"),
        ({"PROMETHEUS_URL": "not a url"}, "PROMETHEUS_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"MC_DEFAULT_PROVIDER": "openai"}, "MC_DEFAULT_PROVIDER"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_a_malformed_secret_is_not_echoed_back() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"PROXMOX_API_TOKEN": "no-separator-secret-value"})
    assert "no-separator-secret-value" not in str(caught.value)


def test_secrets_do_not_print() -> None:
    settings = load_settings({"GEMINI_API_KEY": "AIza-very-secret", "ARGOCD_TOKEN": "tok-secret"})
    assert "AIza-very-secret" not in repr(settings)
    assert "tok-secret" not in str(settings)
