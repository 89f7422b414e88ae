"""Typed settings, read from the environment once per process and passed down.

`load_settings()` reads every setting: the core ones below, whose names follow the
specification (AUTH_SERVICE_URL, OLLAMA_HOST, …), and one section per area (`settings.fetch`,
`settings.auth`, `settings.llm`, …), each defined by its area (`alt.platform.sections`). A bad
value raises ConfigError naming its variable, so a service stops at start rather than run on
a fallback. Nothing else reads the environment for settings: code gets the settings, or the
section it needs, as a parameter.

Defaults are the embedded, single-machine layout on loopback with the specification's ports.
A service listens on the port of its own URL, so one table of URLs says both where each
service listens and where the others call it. Every setting is described where it is defined;
`settings_markdown()` makes the table of docs/SETTINGS.md (`alt settings`) from those texts.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from alt.auth.settings import AuthSettings
from alt.backend.settings import ImageProxySettings, StatsStreamSettings
from alt.frontend.settings import EdgeSettings
from alt.platform.egress.limits import FetchLimits
from alt.platform.sections import section
from alt.preprocessor.settings import IngestSettings
from alt.services import SERVICES
from alt.summaries.settings import LLMSettings, SummarySettings


class ConfigError(Exception):
    """Configuration that cannot work; the message names the setting."""


def _url(env: str, *aliases: str, port: int) -> AnyHttpUrl:
    return Field(
        default=AnyHttpUrl(f"http://127.0.0.1:{port}"),
        validation_alias=AliasChoices(env, *aliases),
    )


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "alt"


PositiveFloat = Annotated[float, Field(gt=0)]
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


DatabaseUrl = Annotated[
    str,
    AfterValidator(_check_database_url),
    WithJsonSchema({"type": "string", "format": "postgresql"}),
]


class RateLimits(BaseModel):
    """Token buckets of alt-backend's routes, per client address and per user
    (`alt.platform.ratelimit`). A page of the reader may load dozens of proxied images at once,
    and several people may share an address (NAT), hence the bursts and the larger address
    limits. A load test from a few addresses (bench/api) raises them."""

    model_config = section("ALT_RATE_")

    ip_per_s: PositiveFloat = 100.0
    """Requests a second one client address may make, on average."""
    ip_burst: PositiveInt = 1000
    """Requests one client address may make at once, before its bucket is empty."""
    user_per_s: PositiveFloat = 50.0
    """Requests a second one user may make, on average."""
    user_burst: PositiveInt = 300
    """Requests one user may make at once, before their bucket is empty."""
    max_keys: PositiveInt = 100_000
    """Buckets kept in memory, per process; the least recently used goes first."""


class RequestDeadlines(BaseModel):
    """Time a handler has to start its answer before the client gets 503
    (`alt.platform.ratelimit`); streams are exempt."""

    model_config = section("ALT_REQUEST_DEADLINE_")

    read_s: PositiveFloat = 30.0
    """Seconds for GET and HEAD requests."""
    write_s: Annotated[float, Field(gt=0, le=99)] = 95.0
    """Seconds for other methods; under the edge's 100 s wait for alt-backend, since
    subscribing waits for discovery."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    # Where each service is reached; a service listens on the port of its own URL.
    auth_service_url: AnyHttpUrl = _url("AUTH_SERVICE_URL", port=SERVICES["auth-service"].port)
    """auth-service."""
    alt_backend_url: AnyHttpUrl = _url("ALT_BACKEND_URL", "BACKEND_URL", port=9000)
    """alt-backend."""
    alt_frontend_url: AnyHttpUrl = _url("ALT_FRONTEND_URL", "FRONTEND_URL", port=3000)
    """alt-frontend: the UI, and the address the egress client names in its User-Agent."""
    pre_processor_url: AnyHttpUrl = _url("PRE_PROCESSOR_URL", port=9200)
    """pre-processor."""
    news_creator_url: AnyHttpUrl = _url("NEWS_CREATOR_URL", "OLLAMA_HOST", port=11434)
    """news-creator, the LLM gateway."""
    tag_generator_url: AnyHttpUrl = _url("TAG_GENERATOR_URL", port=9400)
    """tag-generator."""
    search_indexer_url: AnyHttpUrl = _url("SEARCH_INDEXER_URL", port=9300)
    """search-indexer."""
    pre_processor_sidecar_url: AnyHttpUrl = _url("PRE_PROCESSOR_SIDECAR_URL", port=9210)
    """The Inoreader sync job's health endpoint."""
    auth_token_manager_url: AnyHttpUrl = _url("AUTH_TOKEN_MANAGER_URL", port=9220)
    """The OAuth2 token job's health endpoint."""

    bind_host: str = Field(default="127.0.0.1", validation_alias="ALT_BIND_HOST")
    """Address `alt serve` listens on (`--host` overrides it)."""

    # Stores. No database URL means embedded mode: `alt up` starts a private PostgreSQL.
    database_url: DatabaseUrl | None = Field(
        default=None, validation_alias="DATABASE_URL", repr=False
    )
    """The application's PostgreSQL database; unset: an embedded one (`alt up`)."""
    auth_database_url: DatabaseUrl | None = Field(
        default=None, validation_alias="AUTH_DATABASE_URL", repr=False
    )
    """auth-service's PostgreSQL database; unset: an embedded one (`alt up`)."""
    db_pool_max: PositiveInt = Field(default=10, validation_alias="ALT_DB_POOL_MAX")
    """Database connections per process; on a machine of few cores that also runs PostgreSQL,
    about one per core keeps latency short at saturation."""

    egress_proxy: AnyHttpUrl | None = Field(default=None, validation_alias="ALT_EGRESS_PROXY")
    """Forward proxy for every outbound request to the internet; unset: direct connections,
    each checked by the SSRF guard."""

    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias="ALT_DATA_DIR")
    """Embedded database, service keys and the image key; default `~/.local/share/alt`."""
    service_keys_file: Path | None = Field(default=None, validation_alias="ALT_SERVICE_KEYS_FILE")
    """The services' Ed25519 keys; `alt up` generates one under the data directory."""
    service_token_ttl_s: PositiveInt = Field(default=60, validation_alias="ALT_SERVICE_TOKEN_TTL")
    """Seconds a service-to-service token is valid."""
    metrics_token: str | None = Field(
        default=None, min_length=32, validation_alias="ALT_METRICS_TOKEN", repr=False
    )
    """Lets a remote scraper read `/metrics` (as a bearer token, 32 characters or more);
    loopback always may."""

    max_request_bytes: PositiveInt = Field(
        default=1_048_576, validation_alias="ALT_MAX_REQUEST_BYTES"
    )
    """Largest request body a service reads, in bytes."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="ALT_LOG_LEVEL"
    )
    """Least severe log lines written (any case)."""
    shutdown_grace_s: PositiveInt = Field(default=20, validation_alias="ALT_SHUTDOWN_GRACE")
    """Seconds a stopping service gives running requests and jobs to finish."""
    workers: PositiveInt = Field(default=1, le=64, validation_alias="ALT_WORKERS")
    """Processes `alt serve` runs for its service on one port (one per core suits a busy
    alt-backend); each has its own database pool and in-memory rate limits."""
    up_ready_timeout_s: PositiveInt = Field(default=90, validation_alias="ALT_UP_READY_TIMEOUT")
    """Seconds `alt up` waits for every service to say it is ready."""

    job_heartbeat_s: float = Field(default=5.0, gt=0, validation_alias="ALT_JOB_HEARTBEAT")
    """Seconds between a job worker's heartbeats."""
    job_stalled_after_s: float = Field(default=30.0, gt=0, validation_alias="ALT_JOB_STALLED_AFTER")
    """Seconds without a heartbeat after which a worker is dead and its jobs run again."""

    # The sections, each with its own prefix.
    fetch: FetchLimits = Field(default_factory=FetchLimits)
    """Outbound fetches: the egress client's limits and policy"""
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    """Rate limits"""
    deadlines: RequestDeadlines = Field(default_factory=RequestDeadlines)
    """Request deadlines"""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    """Identity: sessions, logins"""
    edge: EdgeSettings = Field(default_factory=EdgeSettings)
    """The edge: origins, proxies in front of it, relayed streams"""
    images: ImageProxySettings = Field(default_factory=ImageProxySettings)
    """The image proxy"""
    stats_stream: StatsStreamSettings = Field(default_factory=StatsStreamSettings)
    """The stats stream"""
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    """Ingestion: feed schedule, parsing, retention"""
    summaries: SummarySettings = Field(default_factory=SummarySettings)
    """Summary requests of the pre-processor"""
    llm: LLMSettings = Field(default_factory=LLMSettings)
    """The LLM and the quality gate of news-creator"""

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


SECTIONS: dict[str, type[BaseModel]] = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
}


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment, where `overrides` (by variable name, or a whole
    section by its name: `fetch=FetchLimits(...)`) take the place of the environment's values.
    Raises ConfigError naming each bad setting."""
    env: dict[str, object] = {**os.environ, **overrides}
    sections = {
        name: overrides[name] if name in overrides else _section_values(cls, env)
        for name, cls in SECTIONS.items()
    }
    try:
        return Settings.model_validate({**env, **sections})
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None


def _section_values(cls: type[BaseModel], env: Mapping[str, object]) -> dict[str, object]:
    """The section's variables that are set."""
    names = (_names(field)[0] for field in cls.model_fields.values())
    return {name: env[name] for name in names if name in env}


def _problem(error: ErrorDetails) -> str:
    """`VARIABLE: what is wrong (got 'its value')`, the value left out for secrets."""
    path = [str(part) for part in error["loc"]]
    name = next((part for part in path if part not in SECTIONS), ".".join(path))
    field = _variables().get(name)
    shown = field is None or not _is_secret(field)
    return f"{name}: {error['msg']}" + (f" (got {error['input']!r})" if shown else "")


# --- the documentation table -----------------------------------------------------------------


def _names(field: FieldInfo) -> tuple[str, ...]:
    """The field's environment variables, the main one first."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    assert isinstance(alias, str), "every setting has an environment variable"
    return (alias,)


@cache
def _variables() -> dict[str, FieldInfo]:
    """Every setting by each of its variables."""
    models: list[type[BaseModel]] = [Settings, *SECTIONS.values()]
    return {
        variable: field
        for model in models
        for name, field in model.model_fields.items()
        if name not in SECTIONS
        for variable in _names(field)
    }


def setting_variables() -> list[str]:
    """Every environment variable a setting is read from."""
    return list(_variables())


def _is_secret(field: FieldInfo) -> bool:
    return not field.repr or SecretStr in (field.annotation, *get_args(field.annotation))


HEADER = """\
# Settings

Every setting is an environment variable. Each process reads them once, at start, and a bad
value stops it there with a message that names the variable. Defaults are the embedded layout
on one machine, on loopback.

This file is generated from the code by `alt settings` (`alt settings > docs/SETTINGS.md`);
`tests/test_config.py` fails when the two disagree.
"""

_FORMATS = {
    "uri": "URL",
    "postgresql": "`postgresql://` URL",
    "path": "path",
    "password": "secret",
    "ipv4network": "IP network",
    "ipv6network": "IP network",
}


def settings_markdown() -> str:
    """docs/SETTINGS.md: a table of every setting, per section, from the code."""
    schema = Settings.model_json_schema(mode="validation")
    parts = [HEADER, "## Services, stores, processes\n", _table(Settings, schema)]
    for name, cls in SECTIONS.items():
        title = Settings.model_fields[name].description
        parts.append(f"## {title} (`settings.{name}`)\n")
        parts.append(inspect.cleandoc(cls.__doc__ or "") + "\n")
        parts.append(_table(cls, schema["$defs"][cls.__name__]))
    return "\n".join(parts)


def _table(model: type[BaseModel], schema: dict[str, Any]) -> str:
    rows = ["| variable | default | allowed | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in SECTIONS:
            continue
        main, *others = _names(field)
        variable = f"`{main}`" + "".join(f" or `{other}`" for other in others)
        cells = (variable, _default(field), _allowed(schema["properties"][main]))
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append("| " + " | ".join((*cells, meaning)) + " |")
    return "\n".join(rows) + "\n"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "see meaning"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list):
        return f"`{','.join(map(str, value))}`" if value else "empty"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, AnyHttpUrl):
        return f"`{str(value).rstrip('/')}`"
    return f"`{value}`"


def _allowed(prop: dict[str, Any]) -> str:
    """The values a setting takes, in words, from its JSON schema."""
    if "anyOf" in prop:
        kinds = (_allowed(option) for option in prop["anyOf"] if option.get("type") != "null")
        return " or ".join(dict.fromkeys(kinds))
    if "enum" in prop:
        return ", ".join(f"`{value}`" for value in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_allowed(prop.get('items', {}))}, comma-separated"
    if kind == "boolean":
        return "`true` or `false`"
    if kind in ("integer", "number"):
        return f"{kind} {_bounds(prop)}".strip()
    if "format" in prop:
        return _FORMATS[prop["format"]]
    return f"text of ≥ {prop['minLength']} characters" if "minLength" in prop else "text"


def _bounds(prop: dict[str, Any]) -> str:
    signs = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
    return ", ".join(f"{sign} {prop[key]}" for key, sign in signs.items() if key in prop)
