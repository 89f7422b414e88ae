"""Settings: the specification's names and ports by default; bad values fail at start, named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alt.config import ConfigError, load_settings
from alt.services import SERVICES


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
    monkeypatch.setenv("MEILISEARCH_HOST", "http://meilisearch.alt-search:7700")
    monkeypatch.setenv("ALT_EGRESS_PROXY", "http://envoy-proxy.alt-apps:8085")
    settings = load_settings()
    assert settings.service_url("news-creator") == "http://ollama.alt-processing:11434"
    assert settings.service_port("auth-service") == 8080
    assert str(settings.meilisearch_host) == "http://meilisearch.alt-search:7700/"
    assert settings.egress_proxy is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH_SERVICE_URL", "not a url"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("ALT_DB_POOL_MAX", "0"),
        ("ALT_LOG_LEVEL", "chatty"),
        ("ALT_METRICS_TOKEN", "short"),
        ("ALT_WORKERS", "0"),
    ],
)
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_a_service_refuses_to_start_on_bad_configuration() -> None:
    env = {**os.environ, "ALT_BACKEND_URL": "::nonsense::"}
    result = subprocess.run(
        [sys.executable, "-m", "alt.cli", "serve", "alt-backend"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ALT_BACKEND_URL" in result.stderr
