"""Configuration: every variable is documented, problems are one clear line, secrets stay hidden."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    assert settings.operator.webhook_port is None  # no Alertmanager receiver unless asked


def test_the_webhook_port_turns_the_alertmanager_receiver_on() -> None:
    assert load_settings({"MC_WEBHOOK_PORT": "8083"}).operator.webhook_port == 8083


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"MC_MAX_CONCURRENT_RUNS": "many"}, "MC_MAX_CONCURRENT_RUNS"),
        ({"MC_MAX_CONCURRENT_RUNS": "0"}, "MC_MAX_CONCURRENT_RUNS"),
        ({"PROXMOX_API_TOKEN": "just-a-secret"}, "PROXMOX_API_TOKEN"),
        ({"PROMETHEUS_URL": "not a url"}, "PROMETHEUS_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"MC_DEFAULT_PROVIDER": "openai"}, "MC_DEFAULT_PROVIDER"),
        ({"MC_WEBHOOK_PORT": "0"}, "MC_WEBHOOK_PORT"),
        ({"MC_WEBHOOK_PORT": "65536"}, "MC_WEBHOOK_PORT"),
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


#: One secret per kind of secret setting: passwords inside URLs, tokens, keys.
URL_PASSWORD = "url-pa55-word"
SECRET_ENVIRONMENT = {
    "DATABASE_URL": f"postgresql://mc:{URL_PASSWORD}-db@db:5432/mission_control",
    "PROMETHEUS_URL": f"http://viewer:{URL_PASSWORD}-prom@prometheus:9090",
    "ARGOCD_URL": f"https://admin:{URL_PASSWORD}-argo@argocd.example.lan",
    "ARGOCD_TOKEN": "argo-token-secret",
    "OLLAMA_BASE_URL": f"https://me:{URL_PASSWORD}-ollama@ollama.example.lan:11434",
    "GEMINI_BASE_URL": f"https://proxy:{URL_PASSWORD}-gemini@gemini-proxy.lan",
    "GEMINI_API_KEY": "AIza-gemini-secret",
    "ANTHROPIC_BASE_URL": f"https://proxy:{URL_PASSWORD}-claude@claude-proxy.lan",
    "ANTHROPIC_API_KEY": "sk-ant-secret",
    "PROXMOX_API_TOKEN": "mc@pve!mc=proxmox-token-secret",
}


def renderings(section: Any) -> list[str]:
    """Every way a settings section is commonly printed: repr, str, f-string, JSON, a dump."""
    return [
        repr(section),
        str(section),
        f"{section}",
        section.model_dump_json(),
        str(section.model_dump()),
        repr(section.model_dump()),
    ]


def test_no_rendering_of_any_section_shows_a_secret() -> None:
    settings = load_settings(SECRET_ENVIRONMENT)
    printed = [repr(settings), str(settings)]
    for name in _SECTIONS:
        printed += renderings(getattr(settings, name))
    text = "\n".join(printed)
    assert URL_PASSWORD not in text
    for secret in ("argo-token-secret", "AIza-gemini-secret", "sk-ant-secret", "token-secret"):
        assert secret not in text
    assert "viewer:***@prometheus:9090" in text  # still says which URL and user


def test_url_settings_still_connect_with_their_credentials() -> None:
    settings = load_settings(SECRET_ENVIRONMENT)
    assert settings.prometheus.url is not None
    assert settings.prometheus.url.get_secret_value() == (
        f"http://viewer:{URL_PASSWORD}-prom@prometheus:9090/"
    )
    assert settings.ollama.base_url is not None
    assert URL_PASSWORD in settings.ollama.base_url.get_secret_value()


def test_a_bad_setting_does_not_point_at_a_file_that_is_never_read() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"PROMETHEUS_URL": "not a url"})
    assert ".env" not in str(caught.value)
    assert str(caught.value).endswith("(check the environment)")
