"""Configuration: one typed settings object built from the environment at start-up.

Every variable of the design's configuration table maps to one field of one small
per-concern section. :func:`load_settings` builds them all, validates once, and turns any
problem into a :class:`~mission_control.errors.ConfigError` whose message is one line naming
the variable. Secrets are :class:`pydantic.SecretStr`, so they never print by accident;
URLs are :class:`SecretUrl`, which print without their password (``http://mc:***@host/``).
Nothing else in the package reads ``os.environ``; no ``.env`` file is read (export its
variables into the environment, e.g. ``set -a; . ./.env; set +a``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from mission_control.errors import ConfigError

__all__ = [
    "AnthropicSettings",
    "ArgoCDSettings",
    "AuditSettings",
    "DatabaseSettings",
    "GeminiSettings",
    "KubernetesSettings",
    "NotifySettings",
    "OllamaSettings",
    "OperatorSettings",
    "PrometheusSettings",
    "ProxmoxSettings",
    "SecretUrl",
    "Settings",
    "SidecarSettings",
    "load_settings",
    "parse_model_chain",
]

Provider = Literal["ollama", "gemini", "anthropic"]


class SecretUrl(SecretStr):
    """An http(s) URL that may carry ``user:password@``: every rendering (``str``, ``repr``,
    JSON) shows it with the password replaced by ``***``; ``get_secret_value()`` is the URL
    to connect to."""

    def _display(self) -> str:
        parts = urlsplit(self.get_secret_value())
        if parts.password is None:
            return self.get_secret_value()
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


def _http_url(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return str(_HTTP_URL.validate_python(value))


#: An http(s) URL setting (validated like ``AnyHttpUrl``), hidden like a secret.
HttpUrl = Annotated[SecretUrl, BeforeValidator(_http_url)]


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)


class DatabaseSettings(BaseSettings):
    """PostgreSQL holding the journal, usage, audit trail and inventory."""

    model_config = _section("DATABASE_")
    url: SecretStr | None = Field(
        default=None, description="libpq URL, e.g. postgresql://mc:PASSWORD@db:5432/mission_control"
    )
    pool_min_size: int = Field(
        default=1, ge=0, le=100, description="Connections the store keeps open when idle."
    )
    pool_max_size: int = Field(
        default=10, ge=1, le=200, description="Most connections the store opens at once."
    )
    wait_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a query waits for a connection (e.g. during an outage) before "
        "failing with a retryable error.",
    )
    app_role: str | None = Field(
        default=None,
        description="Role the operator connects as; `migrate` grants it only what it needs.",
    )
    readonly_role: str | None = Field(
        default=None, description="Role the sidecar connects as; `migrate` grants it SELECT only."
    )

    def require_url(self) -> str:
        """The database URL; a :class:`ConfigError` naming ``DATABASE_URL`` when it is unset."""
        if self.url is None:
            raise ConfigError("DATABASE_URL: is not set (the libpq URL of the PostgreSQL database)")
        return self.url.get_secret_value()


class KubernetesSettings(BaseSettings):
    """How to reach the Kubernetes API: in-cluster service account, else ``KUBECONFIG``."""

    model_config = _section("")
    kubeconfig: Path | None = Field(default=None, description="Path of a kubeconfig file.")


class _TLSClientSettings(BaseSettings):
    """An HTTPS API whose certificate may come from a private CA."""

    verify_tls: bool = Field(default=True, description="Verify the API's TLS certificate.")
    ca_file: Path | None = Field(
        default=None, description="PEM CA bundle for the API's certificate (default: system trust)."
    )

    def tls_verify(self) -> bool | str:
        """What HTTP clients take as ``verify``: off, the system trust, or a CA bundle path."""
        if self.verify_tls and self.ca_file is not None:
            return str(self.ca_file)
        return self.verify_tls


class ProxmoxSettings(_TLSClientSettings):
    """Proxmox VE API access with an API token (``USER@REALM!TOKENID=SECRET``)."""

    model_config = _section("PROXMOX_")
    host: str | None = Field(default=None, description="host or host:port of the Proxmox API.")
    api_token: SecretStr | None = Field(default=None, description="USER@REALM!TOKENID=SECRET")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout, seconds.")

    @field_validator("api_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        raw = value.get_secret_value()
        ident, sep, secret = raw.partition("=")
        if not sep or "!" not in ident or "@" not in ident or not secret:
            raise ValueError("must look like USER@REALM!TOKENID=SECRET")
        return value


class PrometheusSettings(BaseSettings):
    """Prometheus HTTP API base URL."""

    model_config = _section("PROMETHEUS_")
    url: HttpUrl | None = Field(default=None, description="e.g. http://prometheus:9090")
    timeout_seconds: float = Field(default=15.0, gt=0, description="Per-request timeout, seconds.")


class ArgoCDSettings(_TLSClientSettings):
    """Argo CD API server and a bearer token of an account allowed to read applications."""

    model_config = _section("ARGOCD_")
    url: HttpUrl | None = Field(default=None, description="e.g. https://argocd.example.lan")
    token: SecretStr | None = Field(default=None, description="Argo CD API token (bearer).")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout, seconds.")


class OllamaSettings(BaseSettings):
    """A local or remote Ollama server."""

    model_config = _section("OLLAMA_")
    base_url: HttpUrl | None = Field(default=None, description="e.g. http://ollama:11434")
    model: str = Field(default="llama3.1", description="Default model name.")
    requests_per_minute: int = Field(default=0, ge=0, description="0 means unlimited.")
    timeout_seconds: float = Field(
        default=300.0, gt=0, description="Seconds one request may take (local models load slowly)."
    )
    num_ctx: int | None = Field(
        default=None,
        ge=256,
        description="Context window in tokens (options.num_ctx); unset: the model's.",
    )
    stall_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Seconds a streamed answer may go without a new chunk before it is "
        "abandoned as stalled (the first chunk follows model load and prompt evaluation); "
        "0: do not stream, wait up to timeout_seconds for the whole answer.",
    )


class GeminiSettings(BaseSettings):
    """Google Gemini API (Generative Language API)."""

    model_config = _section("GEMINI_")
    api_key: SecretStr | None = Field(default=None, description="Gemini API key.")
    model: str = Field(default="gemini-2.0-flash", description="Default model name.")
    base_url: HttpUrl | None = Field(default=None, description="Override of the API endpoint.")
    requests_per_minute: int = Field(default=15, ge=0, description="Free tier: 15/min.")
    timeout_seconds: float = Field(default=120.0, gt=0, description="Seconds one request may take.")


class AnthropicSettings(BaseSettings):
    """Anthropic Messages API."""

    model_config = _section("ANTHROPIC_")
    api_key: SecretStr | None = Field(default=None, description="Anthropic API key.")
    model: str = Field(default="claude-sonnet-4-6", description="Default model name.")
    base_url: HttpUrl | None = Field(default=None, description="Override of the API endpoint.")
    requests_per_minute: int = Field(default=50, ge=0, description="0 means unlimited.")
    timeout_seconds: float = Field(default=120.0, gt=0, description="Seconds one request may take.")
    max_tokens: int = Field(
        default=4096, ge=1, description="Most tokens one answer may have (required by the API)."
    )


_PROVIDERS: tuple[Provider, ...] = ("ollama", "gemini", "anthropic")


def parse_model_chain(value: str) -> tuple[tuple[Provider, str], ...]:
    """``ollama/llama3.1,gemini/gemini-2.0-flash`` as pairs; ValueError saying what is wrong."""
    chain: list[tuple[Provider, str]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        provider, slash, model = item.partition("/")
        if not slash or not model or any(c.isspace() for c in model) or "/" in model:
            raise ValueError(
                f"{item!r} is not PROVIDER/MODEL (e.g. ollama/llama3.1,gemini/gemini-2.0-flash)"
            )
        if provider not in _PROVIDERS:
            raise ValueError(f"{item!r}: the provider must be one of {', '.join(_PROVIDERS)}")
        chain.append((provider, model))
    if len(chain) > 3:
        raise ValueError("at most 3 fallback models")
    return tuple(chain)


class OperatorSettings(BaseSettings):
    """Behaviour of the operator process."""

    model_config = _section("MC_")
    default_provider: Provider = Field(
        default="ollama", description="Provider when a Task names none."
    )
    max_concurrent_runs: int = Field(default=20, ge=1, le=1000, description="Active runs at once.")
    agent_service_account: str = Field(
        default="mission-control-agent",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
        description="ServiceAccount of a run's namespace that Kubernetes tools act as when "
        "neither the TaskRun nor the Task names one.",
    )
    prices_file: Path | None = Field(default=None, description="YAML overriding the price table.")
    models_file: Path | None = Field(
        default=None, description="YAML overriding the model table (context window, tools)."
    )
    model_fallbacks: str = Field(
        default="",
        description="Default fallback chain, PROVIDER/MODEL separated by commas, e.g. "
        "ollama/llama3.1,gemini/gemini-2.0-flash; used when a run's model names none.",
    )
    model_fallback_cooldown_seconds: float = Field(
        default=300.0,
        ge=0,
        description="After a failover, seconds before a run tries its primary model again.",
    )
    inventory_metadata_file: Path | None = Field(default=None, description="Static metadata YAML.")
    inventory_refresh_seconds: int = Field(
        default=60, ge=5, description="Inventory refresh period."
    )
    metrics_port: int = Field(
        default=8082,
        ge=0,
        le=65535,
        description="TCP port of the operator's Prometheus metrics (/metrics); 0 serves none.",
    )
    metrics_host: str = Field(default="0.0.0.0", description="Address the metrics port binds.")
    webhook_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TCP port of the Alertmanager receiver of TaskTriggers "
        "(POST /alertmanager/v4/NAMESPACE/TRIGGER); unset serves none.",
    )
    webhook_host: str = Field(default="0.0.0.0", description="Address the webhook port binds.")
    metrics_namespace_label: bool = Field(
        default=False,
        description="Label run, token and cost metrics with the run's namespace (one series "
        "per namespace: leave off where namespaces are many).",
    )
    trace_content: bool = Field(
        default=False,
        description="Put prompts, answers and tool output in trace spans (off: only sizes, "
        "names and counts).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="LOG_LEVEL"
    )

    @field_validator("model_fallbacks")
    @classmethod
    def _chain(cls, value: str) -> str:
        parse_model_chain(value)  # a malformed chain stops the start with one line
        return value

    @property
    def fallback_chain(self) -> tuple[tuple[Provider, str], ...]:
        """``MC_MODEL_FALLBACKS`` as (provider, model) pairs, in order."""
        return parse_model_chain(self.model_fallbacks)

    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias="LOG_FORMAT",
        description="Log lines as plain text, or one JSON object per line (for log collectors).",
    )


class AuditSettings(BaseSettings):
    """The audit chain's key and the checkpoint of its head outside the database."""

    model_config = _section("MC_AUDIT_")
    key_file: Path | None = Field(
        default=None,
        description="File holding the chain's HMAC key (32+ bytes), e.g. a mounted Secret; "
        "the database never sees it.",
    )
    checkpoint_namespace: str | None = Field(
        default=None,
        description="Namespace of the checkpoint ConfigMap (default: the operator's own).",
    )
    checkpoint_name: str = Field(
        default="mission-control-audit-checkpoint",
        description="ConfigMap holding the chain head (entry id and hash).",
    )
    checkpoint_every: int = Field(
        default=1000,
        ge=1,
        description="The operator checkpoints the chain head after this many new audit "
        "entries, and when it stops.",
    )


class TracingSettings(BaseSettings):
    """OpenTelemetry traces, by the standard ``OTEL_*`` variables (OTLP over HTTP/protobuf).

    Off unless an OTLP endpoint is given; ``OTEL_SDK_DISABLED=true`` or
    ``OTEL_TRACES_EXPORTER=none`` turn it off again.
    """

    model_config = _section("OTEL_")
    exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="Base URL of the OTLP/HTTP receiver; traces go to its /v1/traces.",
    )
    exporter_otlp_traces_endpoint: str | None = Field(
        default=None, description="Full URL for traces (wins over OTEL_EXPORTER_OTLP_ENDPOINT)."
    )
    exporter_otlp_headers: SecretStr | None = Field(
        default=None, description="Headers sent with each export: key=value,key2=value2."
    )
    exporter_otlp_protocol: Literal["http/protobuf"] = Field(
        default="http/protobuf", description="Only OTLP over HTTP with protobuf is built in."
    )
    exporter_otlp_timeout: int = Field(
        default=10000, ge=1, description="Milliseconds one export may take."
    )
    service_name: str = Field(default="mission-control", description="service.name of spans.")
    resource_attributes: str | None = Field(
        default=None, description="More resource attributes: key=value,key2=value2."
    )
    traces_exporter: Literal["otlp", "none"] = Field(
        default="otlp", description="none turns traces off."
    )
    sdk_disabled: bool = Field(default=False, description="true turns traces off.")

    @property
    def traces_url(self) -> str | None:
        """Where spans go, or None when traces are off."""
        if self.sdk_disabled or self.traces_exporter == "none":
            return None
        if self.exporter_otlp_traces_endpoint:
            return self.exporter_otlp_traces_endpoint
        if self.exporter_otlp_endpoint:
            return self.exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None


class NotifySettings(BaseSettings):
    """Notifications of runs' transitions through Apprise (ntfy, Slack, Matrix, email...)."""

    model_config = _section("MC_NOTIFY_")
    urls_file: Path | None = Field(
        default=None,
        description="File of Apprise URLs (one per line, # comments), e.g. a mounted Secret: "
        "the operator-wide receivers of every run's transitions.",
    )
    on: str = Field(
        default="",
        description="Comma-separated transitions the operator-wide receivers hear of; "
        "empty: every one but Succeeded.",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="MC_PUBLIC_URL",
        pattern=r"^https?://[^\s]+$",
        description="Where users reach the web view; messages link to $MC_PUBLIC_URL/ui/.",
    )
    queue_size: int = Field(
        default=1000, ge=1, le=100_000, description="Messages waiting to be sent, at most."
    )
    retry_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="How long a message is retried (with backoff) before it is given up.",
    )
    timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="Seconds one attempt to one receiver may take."
    )


class SidecarSettings(BaseSettings):
    """The read-only HTTP API."""

    model_config = _section("")
    api_auth_token: SecretStr | None = Field(default=None, description="Bearer token for /api/v1.")
    port: int = Field(
        default=8080, ge=1, le=65535, validation_alias="MC_SIDECAR_PORT", description="TCP port."
    )
    host: str = Field(
        default="0.0.0.0", validation_alias="MC_SIDECAR_HOST", description="Address to bind."
    )
    auth: Literal["token", "kubernetes"] = Field(
        default="token",
        validation_alias="MC_SIDECAR_AUTH",
        description="`token`: API_AUTH_TOKEN only; `kubernetes`: also any token the API server "
        "accepts (TokenReview), limited to the namespaces where it may get taskruns.",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        validation_alias="MC_SIDECAR_AUTH_CACHE_SECONDS",
        description="How long a TokenReview or SubjectAccessReview answer is reused.",
    )
    tls_cert: Path | None = Field(
        default=None, validation_alias="MC_SIDECAR_TLS_CERT", description="PEM certificate."
    )
    tls_key: Path | None = Field(
        default=None, validation_alias="MC_SIDECAR_TLS_KEY", description="PEM private key."
    )
    heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        validation_alias="MC_SIDECAR_HEARTBEAT_SECONDS",
        description="Seconds between heartbeat comments on an idle event stream.",
    )
    client_buffer: int = Field(
        default=1000,
        ge=1,
        validation_alias="MC_SIDECAR_CLIENT_BUFFER",
        description="Events held for one stream client; a client further behind is dropped.",
    )
    api_url: str = Field(
        default="http://localhost:8080",
        validation_alias="MC_API_URL",
        description="Where `mission-control logs` finds the sidecar.",
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """All configuration, one section per concern."""

    database: DatabaseSettings
    kubernetes: KubernetesSettings
    proxmox: ProxmoxSettings
    prometheus: PrometheusSettings
    argocd: ArgoCDSettings
    ollama: OllamaSettings
    gemini: GeminiSettings
    anthropic: AnthropicSettings
    operator: OperatorSettings
    audit: AuditSettings
    sidecar: SidecarSettings
    tracing: TracingSettings
    notify: NotifySettings


_SECTIONS: dict[str, type[BaseSettings]] = {
    "database": DatabaseSettings,
    "kubernetes": KubernetesSettings,
    "proxmox": ProxmoxSettings,
    "prometheus": PrometheusSettings,
    "argocd": ArgoCDSettings,
    "ollama": OllamaSettings,
    "gemini": GeminiSettings,
    "anthropic": AnthropicSettings,
    "operator": OperatorSettings,
    "sidecar": SidecarSettings,
    "audit": AuditSettings,
    "tracing": TracingSettings,
    "notify": NotifySettings,
}


def _variable_name(prefix: str, loc: tuple[int | str, ...], model: type[BaseSettings]) -> str:
    field = str(loc[0]) if loc else "?"
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str) and field in (name, alias):
            return alias.upper()
    return f"{prefix}{field}".upper()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate every section from ``environ`` (default: the process environment).

    Raises :class:`ConfigError` with one line naming the first bad variable.
    """
    sections: dict[str, BaseSettings] = {}
    for name, model in _SECTIONS.items():
        # Declared once, on the section's model_config.
        prefix = model.model_config.get("env_prefix", "")
        try:
            if environ is None:
                sections[name] = model()
            else:
                values = {
                    key[len(prefix) :].lower(): value
                    for key, value in environ.items()
                    if key.upper().startswith(prefix)
                    and key[len(prefix) :].lower() in model.model_fields
                }
                for info in model.model_fields.values():
                    alias = info.validation_alias
                    if isinstance(alias, str) and alias in environ:
                        values[alias] = environ[alias]
                sections[name] = model.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            variable = _variable_name(prefix, first["loc"], model)
            raise ConfigError(f"{variable}: {first['msg']} (check the environment)") from None
    return Settings(**sections)  # type: ignore[arg-type]
