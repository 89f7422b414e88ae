"""`alt serve` with ALT_WORKERS runs that many processes of the service on one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from alt.platform.service_tokens import generate_key_file
from alt.services import Database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_workers_serve_one_port_and_stop_together(
    database_urls: dict[Database, str], tmp_path: Path
) -> None:
    keys = tmp_path / "keys.json"
    generate_key_file(keys)
    base = f"http://127.0.0.1:{_free_port()}"
    env = {
        **os.environ,
        "DATABASE_URL": database_urls[Database.APP],
        "AUTH_DATABASE_URL": database_urls[Database.AUTH],
        "ALT_SERVICE_KEYS_FILE": str(keys),
        "ALT_BACKEND_URL": base,
        "ALT_WORKERS": "2",
        "ALT_SHUTDOWN_GRACE": "3",
    }
    parent = subprocess.Popen(
        [sys.executable, "-m", "alt.cli", "serve", "alt-backend"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(base + "/v1/live"):
            assert parent.poll() is None, "alt serve exited"
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.2)
        # uvicorn's workers are spawned processes of the parent, which only supervises.
        workers = [
            child
            for child in psutil.Process(parent.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) in (0, -signal.SIGTERM)
    assert not _answers(base + "/v1/live")
