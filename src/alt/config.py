"""Typed settings, read from the environment.

Names follow the specification (AUTH_SERVICE_URL, OLLAMA_HOST, MEILISEARCH_HOST, …); defaults are
the embedded, single-machine layout on loopback with the specification's ports. A service
listens on the port of its own URL, so one table of URLs says both where each service listens
and where the others call it.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyHttpUrl,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from alt.services import SERVICES


class ConfigError(Exception):
    """Configuration that cannot work; the message names the setting."""


def _url(env: str, *aliases: str, port: int) -> AnyHttpUrl:
    return Field(
        default=AnyHttpUrl(f"http://127.0.0.1:{port}"),
        validation_alias=AliasChoices(env, *aliases),
    )


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "alt"


PositiveInt = Annotated[int, Field(gt=0)]


def _check_database_url(value: str) -> str:
    """A postgresql:// URL libpq understands; unlike PostgresDsn this admits socket URLs
    such as `postgresql://alt@/alt?host=/run/postgresql`."""
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a postgresql:// URL")
    try:
        conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"not a PostgreSQL URL: {exc}") from None
    return value


DatabaseUrl = Annotated[str, AfterValidator(_check_database_url)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Where each service is reached; a service listens on the port of its own URL.
    auth_service_url: AnyHttpUrl = _url("AUTH_SERVICE_URL", port=SERVICES["auth-service"].port)
    alt_backend_url: AnyHttpUrl = _url("ALT_BACKEND_URL", "BACKEND_URL", port=9000)
    alt_frontend_url: AnyHttpUrl = _url("ALT_FRONTEND_URL", "FRONTEND_URL", port=3000)
    pre_processor_url: AnyHttpUrl = _url("PRE_PROCESSOR_URL", port=9200)
    news_creator_url: AnyHttpUrl = _url("NEWS_CREATOR_URL", "OLLAMA_HOST", port=11434)
    tag_generator_url: AnyHttpUrl = _url("TAG_GENERATOR_URL", port=9400)
    search_indexer_url: AnyHttpUrl = _url("SEARCH_INDEXER_URL", port=9300)
    pre_processor_sidecar_url: AnyHttpUrl = _url("PRE_PROCESSOR_SIDECAR_URL", port=9210)
    auth_token_manager_url: AnyHttpUrl = _url("AUTH_TOKEN_MANAGER_URL", port=9220)

    bind_host: str = Field(default="127.0.0.1", validation_alias="ALT_BIND_HOST")

    # Stores. No database URL means embedded mode: `alt up` starts a private PostgreSQL.
    database_url: DatabaseUrl | None = Field(default=None, validation_alias="DATABASE_URL")
    auth_database_url: DatabaseUrl | None = Field(
        default=None, validation_alias="AUTH_DATABASE_URL"
    )
    db_pool_max: PositiveInt = Field(default=10, validation_alias="ALT_DB_POOL_MAX")
    meilisearch_host: AnyHttpUrl | None = Field(default=None, validation_alias="MEILISEARCH_HOST")
    meilisearch_api_key: str | None = Field(default=None, validation_alias="MEILISEARCH_API_KEY")
    clickhouse_url: AnyHttpUrl | None = Field(default=None, validation_alias="CLICKHOUSE_URL")

    # Every outbound request to the internet goes through this forward proxy when it is set.
    egress_proxy: AnyHttpUrl | None = Field(default=None, validation_alias="ALT_EGRESS_PROXY")

    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias="ALT_DATA_DIR")
    service_keys_file: Path | None = Field(default=None, validation_alias="ALT_SERVICE_KEYS_FILE")
    service_token_ttl_s: PositiveInt = Field(default=60, validation_alias="ALT_SERVICE_TOKEN_TTL")
    metrics_token: str | None = Field(
        default=None, min_length=32, validation_alias="ALT_METRICS_TOKEN"
    )

    max_request_bytes: PositiveInt = Field(
        default=1_048_576, validation_alias="ALT_MAX_REQUEST_BYTES"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="ALT_LOG_LEVEL"
    )
    shutdown_grace_s: PositiveInt = Field(default=20, validation_alias="ALT_SHUTDOWN_GRACE")
    # Processes `alt serve` runs for its service on one port (one per core suits a busy
    # alt-backend). Each has its own database pool and in-memory rate limits.
    workers: PositiveInt = Field(default=1, le=64, validation_alias="ALT_WORKERS")
    up_ready_timeout_s: PositiveInt = Field(default=90, validation_alias="ALT_UP_READY_TIMEOUT")

    # Job queue: a worker that misses heartbeats this long is dead and its jobs run again.
    job_heartbeat_s: float = Field(default=5.0, gt=0, validation_alias="ALT_JOB_HEARTBEAT")
    job_stalled_after_s: float = Field(default=30.0, gt=0, validation_alias="ALT_JOB_STALLED_AFTER")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def service_url(self, service: str) -> str:
        url: AnyHttpUrl = getattr(self, service.replace("-", "_") + "_url")
        return str(url).rstrip("/")

    def service_port(self, service: str) -> int:
        url: AnyHttpUrl = getattr(self, service.replace("-", "_") + "_url")
        return url.port or SERVICES[service].port

    @cached_property
    def embedded(self) -> bool:
        return self.database_url is None


def _env_name(settings_cls: type[BaseSettings], field: str) -> str:
    alias = settings_cls.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(alias or field).upper()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError naming each bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = _env_name(Settings, field) if field in Settings.model_fields else field
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
