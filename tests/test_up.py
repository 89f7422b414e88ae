"""`alt up` for real: a subprocess running every service on free loopback ports over an embedded
PostgreSQL, stopped with SIGTERM, then started again on the same data directory."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import psutil
import psycopg
import pytest

from alt.config import Settings, load_settings
from alt.platform import embedded
from alt.services import SERVICES, Database
from alt.up import SETUP_LINE
from tests.helpers import URL_ENV, form_values, loopback_urls

READY_WITHIN_S = 90.0
STOPPED_WITHIN_S = 30.0
READY_LINE = "Alt is ready at "


class Up:
    """One `alt up` process whose output (its own and its services') is collected."""

    def __init__(self, env: dict[str, str]) -> None:
        # In its own session, like a shell job: Ctrl-C can then be sent to its process group.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alt.cli", "up"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.ui_url: str | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # drained all along, so no service blocks on a full pipe
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY_LINE):
                self.ui_url = line.removeprefix(READY_LINE).split()[0]
                self._ready.set()
        self._ready.set()

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def wait_ready(self) -> str:
        started = time.monotonic()
        self._ready.wait(READY_WITHIN_S)
        assert self.ui_url is not None, (
            f"no ready line; exit code {self.process.poll()}:\n{self.output()}"
        )
        print(f"alt up ready in {time.monotonic() - started:.2f} s")
        return self.ui_url

    def stop(self, how: str = "SIGTERM") -> int:
        started = time.monotonic()
        if how == "Ctrl-C":  # what a terminal does: SIGINT to the foreground process group
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(STOPPED_WITHIN_S)
        self._reader.join(5)
        print(f"alt up stopped by {how} in {time.monotonic() - started:.2f} s")
        return code


@pytest.fixture
def up_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "AUTH_DATABASE_URL", "ALT_SERVICE_KEYS_FILE")
    }
    env.update(loopback_urls())
    env.update(ALT_DATA_DIR=str(tmp_path / "data"), ALT_SHUTDOWN_GRACE="10")
    yield env
    # Whatever happened above: no server may outlive the test. A PostgreSQL whose starter is gone
    # is adopted and stopped by the next user of the data directory.
    with embedded.database_urls(settings_of(env)):
        pass


def settings_of(env: dict[str, str]) -> Settings:
    return load_settings(
        ALT_DATA_DIR=env["ALT_DATA_DIR"], DATABASE_URL=None, AUTH_DATABASE_URL=None
    )


def postmaster_pid(env: dict[str, str]) -> int:
    return int((Path(env["ALT_DATA_DIR"]) / "postgres" / "postmaster.pid").read_text().split()[0])


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((parts.hostname or "", parts.port or 80)) == 0


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def check_every_service(env: dict[str, str], ui_url: str) -> None:
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        for name, spec in SERVICES.items():
            url = env[URL_ENV[name]]
            for path in ("/v1/health", "/v1/live", "/v1/ready"):
                response = http.get(url + path)
                assert response.status_code == 200, (name, path, response.text)
            if not spec.public:
                response = http.get(url + "/v1/anything-else")
                assert response.status_code == 401, (name, response.text)
                assert response.json()["code"] == "service_token_required"
        page = http.get(ui_url + "/", follow_redirects=True)  # to the login page
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")


def setup_link(up: Up) -> str | None:
    """The one-time setup link `alt up` printed before its ready line, if any."""
    for line in up.lines:
        if line.startswith(SETUP_LINE):
            return line.removeprefix(SETUP_LINE).split()[0]
    return None


def create_first_admin(link: str) -> None:
    """Open the setup link like a browser and create the admin; it is logged in at once."""
    with httpx.Client(timeout=10.0, trust_env=False) as browser:
        page = browser.get(link)
        assert page.status_code == 200, page.text
        values = form_values(page.text)
        fields = {name: values[name] for name in ("csrf_token", "token")}
        password = "correct horse battery staple"
        created = browser.post(
            urljoin(link, "/setup"),
            data={
                **fields,
                "email": "admin@example.org",
                "password": password,
                "password_again": password,
            },
        )
        assert created.status_code == 303, created.text
        assert browser.get(urljoin(link, "/api/auth/user")).status_code == 200


def assert_all_stopped(up: Up, env: dict[str, str], pg_pid: int, how: str = "SIGTERM") -> None:
    code = up.stop(how)
    assert code == 0, up.output()
    assert "Traceback" not in up.output(last=len(up.lines))
    deadline = time.monotonic() + 5.0  # PID 1 here reaps orphaned processes only now and then
    while running(pg_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pg_pid), "the embedded PostgreSQL is still running"
    assert not (Path(env["ALT_DATA_DIR"]) / "postgres" / "postmaster.pid").exists()
    still_open = [name for name in SERVICES if port_open(env[URL_ENV[name]])]
    assert still_open == []


@contextlib.contextmanager
def alt_up(env: dict[str, str]) -> Iterator[Up]:
    up = Up(env)
    try:
        yield up
    finally:
        if up.process.poll() is None:  # the test failed before stopping it
            up.process.send_signal(signal.SIGTERM)
            try:
                up.process.wait(STOPPED_WITHIN_S)
            except subprocess.TimeoutExpired:
                up.process.kill()
                up.process.wait()


@pytest.mark.timeout(300)
def test_alt_up_runs_everything_stops_cleanly_and_keeps_data(up_env: dict[str, str]) -> None:
    settings = settings_of(up_env)
    keys = settings.data_dir / "service-keys.json"
    with alt_up(up_env) as up:
        ui_url = up.wait_ready()
        assert ui_url == up_env["ALT_FRONTEND_URL"]
        check_every_service(up_env, ui_url)
        link = setup_link(up)  # a fresh install has no admin: the link makes the first one
        assert link is not None, up.output()
        assert link.startswith(ui_url + "/setup?token=")
        create_first_admin(link)
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        keys_before = keys.read_bytes()
        pg_pid = postmaster_pid(up_env)

        # A second user of the data directory borrows the running server and leaves it running.
        with embedded.database_urls(settings) as urls, psycopg.connect(urls[Database.APP]) as conn:
            conn.execute("CREATE TABLE up_probe (note text)")
            conn.execute("INSERT INTO up_probe VALUES ('kept between runs')")
        assert running(pg_pid)
        assert httpx.get(up_env["ALT_BACKEND_URL"] + "/v1/ready", trust_env=False).is_success
        assert_all_stopped(up, up_env, pg_pid)

    with alt_up(up_env) as again:
        check_every_service(up_env, again.wait_ready())
        assert setup_link(again) is None  # there is an admin now
        assert keys.read_bytes() == keys_before
        pg_pid = postmaster_pid(up_env)
        with embedded.database_urls(settings) as urls, psycopg.connect(urls[Database.APP]) as conn:
            assert conn.execute("SELECT note FROM up_probe").fetchall() == [("kept between runs",)]
        assert_all_stopped(again, up_env, pg_pid, how="Ctrl-C")


@pytest.mark.timeout(180)
def test_a_service_that_cannot_start_is_reported_at_once(up_env: dict[str, str]) -> None:
    # news-creator runs no job worker: see the report on worker services that hang when their
    # bind fails right after start-up.
    taken = urlsplit(up_env["NEWS_CREATOR_URL"])
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind((taken.hostname or "", taken.port or 80))
        blocker.listen()
        with alt_up(up_env) as up:
            code = up.process.wait(READY_WITHIN_S)
            up._reader.join(5)
    assert code == 1
    assert up.ui_url is None
    assert "alt up: news-creator exited with code" in up.output(), up.output()
    others = [
        name for name in SERVICES if name != "news-creator" and port_open(up_env[URL_ENV[name]])
    ]
    assert others == []
    assert not (Path(up_env["ALT_DATA_DIR"]) / "postgres" / "postmaster.pid").exists()
