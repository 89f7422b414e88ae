"""Settings: the specification's names and ports by default; bad values fail at start, named."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alt.cli import main
from alt.config import (
    SECTIONS,
    ConfigError,
    Settings,
    load_settings,
    setting_variables,
    settings_markdown,
)
from alt.platform.egress import FetchLimits
from alt.services import SERVICES

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_specification_ports_on_loopback() -> None:
    settings = load_settings()
    expected = {
        "alt-backend": 9000,
        "auth-service": 8080,
        "alt-frontend": 3000,
        "pre-processor": 9200,
        "news-creator": 11434,
        "tag-generator": 9400,
        "search-indexer": 9300,
    }
    for name, port in expected.items():
        assert settings.service_port(name) == port
        assert settings.service_url(name) == f"http://127.0.0.1:{port}"
    assert set(SERVICES) >= set(expected)


def test_seed_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://ollama.alt-processing:11434")
    monkeypatch.setenv("AUTH_SERVICE_URL", "http://auth-service.alt-auth.svc:8080")
    monkeypatch.setenv("ALT_EGRESS_PROXY", "http://envoy-proxy.alt-apps:8085")
    settings = load_settings()
    assert settings.service_url("news-creator") == "http://ollama.alt-processing:11434"
    assert settings.service_port("auth-service") == 8080
    assert settings.egress_proxy is not None


BAD_VALUES = [
    ("AUTH_SERVICE_URL", "not a url"),
    ("DATABASE_URL", "mysql://x@y/z"),
    ("ALT_DB_POOL_MAX", "0"),
    ("ALT_LOG_LEVEL", "chatty"),
    ("ALT_METRICS_TOKEN", "short"),
    ("ALT_WORKERS", "0"),
    # One at least in every section.
    ("ALT_FETCH_MAX_REDIRECTS", "99"),
    ("ALT_FETCH_ALLOWED_PORTS", "80,99999"),
    ("ALT_FETCH_ALLOW_PRIVATE_HOSTS", "no-port"),
    ("ALT_RATE_IP_BURST", "0"),
    ("ALT_REQUEST_DEADLINE_WRITE_S", "100"),
    ("ALT_AUTH_TRUSTED_PROXIES", "10.0.0.0/8,nonsense"),
    ("ALT_AUTH_SESSION_IDLE_S", "a week"),
    ("ALT_IMAGE_PROXY_KEY", "too-short"),
    # These two fell back to their defaults in silence.
    ("ALT_STATS_STREAM_EVERY_S", "fast"),
    ("ALT_STATS_STREAM_HEARTBEAT_S", "0"),
    ("ALT_INGEST_INTERVAL_S", "10"),
    ("ALT_SUMMARY_DAILY_CAP", "0"),
    ("ALT_LLM_ENGINE", "gpt"),
    ("ALT_LLM_MAX_OUTPUT_CHARS", "99999"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_every_section_has_a_bad_value_test() -> None:
    tested = {name for name, _ in BAD_VALUES}
    for section, cls in SECTIONS.items():
        variables = {str(field.validation_alias) for field in cls.model_fields.values()}
        assert tested & variables, f"no bad value of settings.{section} is tested"


def test_every_bad_value_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALT_LOG_LEVEL", "chatty")
    monkeypatch.setenv("ALT_FETCH_NAT64", "perhaps")
    monkeypatch.setenv("ALT_LLM_TEMPERATURE", "-1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    for name in ("ALT_LOG_LEVEL", "ALT_FETCH_NAT64", "ALT_LLM_TEMPERATURE"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALT_IMAGE_PROXY_KEY", "hunter2-hunter2"),
        ("ALT_METRICS_TOKEN", "hunter2-hunter2"),
        ("DATABASE_URL", "mysql://alt:hunter2-hunter2@db/alt"),
    ],
)
def test_bad_secrets_are_named_not_shown(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_sections_are_read_from_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALT_FETCH_ALLOWED_PORTS", "443, 8443")
    monkeypatch.setenv("ALT_FETCH_NAT64", "true")
    monkeypatch.setenv("ALT_AUTH_TRUSTED_PROXIES", "10.0.0.0/8")
    monkeypatch.setenv("ALT_STATS_STREAM_EVERY_S", "0.5")
    monkeypatch.setenv("ALT_LLM_API_KEY", "sk-test")
    settings = load_settings(ALT_RATE_IP_BURST="7", ALT_FETCH_NAT64="false")
    assert settings.fetch.allowed_ports == (443, 8443)
    assert settings.fetch.nat64 is False  # an override wins over the environment
    assert [str(net) for net in settings.edge.trusted_proxies] == ["10.0.0.0/8"]
    assert settings.stats_stream.every_s == 0.5
    assert settings.rate_limits.ip_burst == 7
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "sk-test"
    whole = load_settings(fetch=FetchLimits(max_redirects=1))
    assert whole.fetch.max_redirects == 1
    assert whole.fetch.allowed_ports == (80, 443, 8080, 8443)  # the section as given, whole


def test_sections_read_nothing_by_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only load_settings reads the environment: a section made in code has its defaults."""
    monkeypatch.setenv("ALT_FETCH_MAX_REDIRECTS", "1")
    monkeypatch.setenv("max_redirects", "2")  # nor are lower-case field names variables
    assert FetchLimits().max_redirects == 5
    assert load_settings().fetch.max_redirects == 1
    with pytest.raises(ValueError, match="max_redirect"):
        FetchLimits(max_redirect=1)  # type: ignore[call-arg]


def test_every_setting_is_described() -> None:
    for model in (Settings, *SECTIONS.values()):
        for name, field in model.model_fields.items():
            if name not in SECTIONS:
                assert field.description, f"{model.__name__}.{name} has no description"
    for section, cls in SECTIONS.items():
        assert Settings.model_fields[section].description, section
        assert cls.__doc__, cls.__name__


def test_the_settings_document_is_the_code_s() -> None:
    """docs/SETTINGS.md is generated (`alt settings > docs/SETTINGS.md`); it cannot drift."""
    assert (ROOT / "docs" / "SETTINGS.md").read_text() == settings_markdown()
    assert set(setting_variables()) <= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", settings_markdown()))


def test_alt_settings_prints_it_even_when_a_setting_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALT_WORKERS", "0")
    assert main(["settings"]) == 0
    assert capsys.readouterr().out == settings_markdown()


def test_the_readme_names_only_real_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :]
    named = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", section))
    assert named
    assert named <= set(setting_variables())


# Reads of the environment that are not settings: the worker processes of `alt serve` learn
# their service from it, `alt up` hands its children theirs.
# config.py reads the settings; cli.py and up.py hand environments to child processes;
# metrics.py reads prometheus_client's own PROMETHEUS_MULTIPROC_DIR, which `alt serve` sets.
NOT_SETTINGS = {"cli.py", "up.py", "config.py", "platform/metrics.py"}


def test_no_code_reads_settings_from_the_environment() -> None:
    src = ROOT / "src" / "alt"
    for path in sorted(src.rglob("*.py")):
        name = path.relative_to(src).as_posix()
        text = path.read_text()
        assert "BaseSettings" not in text, name
        if name not in NOT_SETTINGS:
            assert not re.search(r"os\.environ|getenv\(", text), name


@pytest.mark.parametrize(
    ("name", "value"), [("ALT_BACKEND_URL", "::nonsense::"), ("ALT_FETCH_NAT64", "perhaps")]
)
def test_a_service_refuses_to_start_on_bad_configuration(name: str, value: str) -> None:
    env = {**os.environ, name: value}
    result = subprocess.run(
        [sys.executable, "-m", "alt.cli", "serve", "alt-backend"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert name in result.stderr
