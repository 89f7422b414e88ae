"""`alt up`: the whole system on this machine.

It brings up the databases (embedded unless configured), migrates them, makes the service keys
on first run, starts every service as its own `alt serve` process on loopback, waits until each
one says it is ready, prints the UI's address (and, while there is no admin, a one-time setup
link that creates the first one), and on Ctrl-C or SIGTERM stops everything in
order: the services (SIGTERM, then SIGKILL after the grace period), then the database.
Services write their JSON log lines straight to this terminal.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
import psycopg

from alt.auth.setup import issue_setup_token, setup_link
from alt.config import Settings
from alt.platform.embedded import database_urls
from alt.platform.migrate import MigrationError, migrate
from alt.platform.service_tokens import generate_key_file
from alt.services import SERVICES, Database

STOP_MARGIN_S = 10.0
POLL_S = 0.25
PR_SET_PDEATHSIG = 1
SETUP_LINE = "No admin yet: create one at "


class UpError(Exception):
    """`alt up` cannot go on; the message says why and where to look."""


@dataclass
class Child:
    name: str
    url: str
    process: subprocess.Popen[bytes]


def run_up(settings: Settings) -> int:
    stop = threading.Event()
    with _signals_set(stop):
        try:
            with database_urls(settings) as urls:
                for database in (Database.APP, Database.AUTH):
                    applied = migrate(urls[database], database)
                    if applied:
                        _say(f"{database.value} database: applied {', '.join(applied)}")
                setup_notice = _setup_notice(settings, urls[Database.AUTH])
                env = {
                    **os.environ,
                    "DATABASE_URL": urls[Database.APP],
                    "AUTH_DATABASE_URL": urls[Database.AUTH],
                    "ALT_SERVICE_KEYS_FILE": str(_keys_file(settings)),
                    "ALT_DATA_DIR": str(settings.data_dir),
                }
                if stop.is_set():
                    return 0
                with _children(settings, env, stop) as children:
                    try:
                        if _wait_ready(children, stop, settings.up_ready_timeout_s):
                            if setup_notice:
                                print(setup_notice, flush=True)
                            print(
                                f"Alt is ready at {settings.service_url('alt-frontend')} "
                                "(Ctrl-C stops it)",
                                flush=True,
                            )
                            _watch(children, stop)
                    except UpError as exc:
                        _say(str(exc))  # said before the others stop, so it is not buried
                        return 1
        except MigrationError as exc:
            _say(str(exc))
            return 1
        except psycopg.Error as exc:
            _say(f"database: {exc}")
            return 1
    return 0


def _setup_notice(settings: Settings, auth_url: str) -> str | None:
    """While there is no admin: what to open to create one (a new one-time link each start)."""
    ttl_s = settings.auth.setup_link_ttl_s
    with psycopg.connect(auth_url) as conn:
        token = issue_setup_token(conn, ttl_s)
    if token is None:
        return None
    link = setup_link(settings.service_url("alt-frontend"), token)
    return (
        f"{SETUP_LINE}{link} (works once, for {ttl_s / 60:g} min; "
        "or run `alt user create EMAIL --admin`)"
    )


def _say(message: str) -> None:
    print(f"alt up: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM ask for an orderly stop; a second one while stopping kills."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _keys_file(settings: Settings) -> Path:
    if settings.service_keys_file is not None:
        return settings.service_keys_file
    path = settings.data_dir / "service-keys.json"
    if not path.exists():
        generate_key_file(path)
        _say(f"generated service keys in {path}")
    return path


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if `alt up` itself dies without cleaning up."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def _children(
    settings: Settings, env: dict[str, str], stop: threading.Event
) -> Iterator[list[Child]]:
    children: list[Child] = []
    try:
        for name in SERVICES:
            process = subprocess.Popen(
                [sys.executable, "-m", "alt.cli", "serve", name],
                env=env,
                stdin=subprocess.DEVNULL,
                # Own process group: Ctrl-C reaches `alt up` only, which stops each child once.
                process_group=0,
                preexec_fn=_die_with_parent,
            )
            children.append(Child(name, settings.service_url(name), process))
        yield children
    finally:
        # A service may use the grace twice: draining connections, then finishing jobs.
        _stop_all(children, 2 * settings.shutdown_grace_s + STOP_MARGIN_S, stop)


def _stop_all(children: list[Child], grace_s: float, stop: threading.Event) -> None:
    running = [child for child in children if child.process.poll() is None]
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    if running:
        _say(f"stopping {len(running)} services")
    stop.clear()  # a second Ctrl-C from here on means: do not wait
    deadline = time.monotonic() + grace_s
    for child in running:
        while child.process.poll() is None and time.monotonic() < deadline and not stop.is_set():
            stop.wait(0.05)
        if child.process.poll() is None:
            _say(f"{child.name} did not stop in time; killing it")
            child.process.kill()
        child.process.wait()


def _exited(children: list[Child]) -> None:
    for child in children:
        code = child.process.poll()
        if code is not None:
            raise UpError(
                f"{child.name} exited with code {code}; its log is above "
                f'(lines with "service": "{child.name}")'
            )


def _wait_ready(children: list[Child], stop: threading.Event, timeout_s: float) -> bool:
    """True when every service is ready; False if asked to stop first."""
    pending = {child.name: child for child in children}
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        while pending:
            _exited(children)
            for name, child in list(pending.items()):
                try:
                    response = http.get(child.url + "/v1/ready")
                except httpx.HTTPError as exc:
                    last[name] = type(exc).__name__
                    continue
                if response.status_code == 200:
                    del pending[name]
                last[name] = f"{response.status_code} {response.text[:300]}"
            if not pending:
                return True
            if time.monotonic() > deadline:
                names = "; ".join(
                    f"{name} ({child.url}/v1/ready answered {last.get(name)})"
                    for name, child in pending.items()
                )
                raise UpError(
                    f"not ready after {timeout_s:.0f} s: {names}. "
                    'Their logs are above (lines with "service": "<name>").'
                )
            if stop.wait(POLL_S):
                return False
    return True


def _watch(children: list[Child], stop: threading.Event) -> None:
    """Run until a signal asks to stop; a service that dies takes the whole set down."""
    while not stop.wait(0.5):
        _exited(children)
