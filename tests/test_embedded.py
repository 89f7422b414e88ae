"""The embedded PostgreSQL: real servers from the pgserver wheel in temporary data directories."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest

from alt.config import ConfigError, Settings, load_settings
from alt.platform import embedded
from alt.services import Database


def embedded_settings(data_dir: Path) -> Settings:
    return load_settings(ALT_DATA_DIR=str(data_dir), DATABASE_URL=None, AUTH_DATABASE_URL=None)


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def alive(pid: int) -> bool:
    """Running, not a zombie: here PID 1 reaps orphaned processes only every second or so."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_starts_with_both_databases_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path)
    with embedded.database_urls(settings) as urls:
        pid = postmaster_pid(tmp_path)
        assert pid is not None
        assert alive(pid)
        for database, name in ((Database.APP, "alt"), (Database.AUTH, "alt_auth")):
            with psycopg.connect(urls[database]) as conn:
                row = conn.execute(
                    "SELECT current_database(), current_setting('listen_addresses')"
                ).fetchone()
                assert row == (name, "")  # socket only: no TCP port to clash with
        with psycopg.connect(urls[Database.APP]) as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('written before the stop')")
    assert postmaster_pid(tmp_path) is None
    assert not alive(pid)

    with embedded.database_urls(settings) as urls, psycopg.connect(urls[Database.APP]) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("written before the stop",)]
    assert postmaster_pid(tmp_path) is None


def test_a_borrower_leaves_the_server_running(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path)
    with embedded.database_urls(settings) as urls:
        with embedded.database_urls(settings) as borrowed:
            assert borrowed == urls
        with psycopg.connect(urls[Database.AUTH]) as conn:  # still up after the borrower left
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert postmaster_pid(tmp_path) is None


def test_a_server_left_by_a_killed_process_is_adopted_and_stopped(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys; from pathlib import Path\n"
            "from alt.platform.embedded import embedded_postgres\n"
            "with embedded_postgres(Path(sys.argv[1])):\n"
            "    print('up', flush=True); signal.pause()  # until killed\n",
            str(tmp_path / "postgres"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "up"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    orphan = postmaster_pid(tmp_path)
    assert orphan is not None
    assert alive(orphan)

    with embedded.database_urls(embedded_settings(tmp_path)) as urls:
        with psycopg.connect(urls[Database.APP]) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("alt",)
        assert postmaster_pid(tmp_path) == orphan
    assert postmaster_pid(tmp_path) is None
    assert not alive(orphan)


def test_directories_above_the_data_are_not_opened_to_all(tmp_path: Path) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    with embedded.database_urls(embedded_settings(private / "alt")):
        # As root the server runs as the `pgserver` user, which must pass through, not list.
        expected = 0o711 if os.geteuid() == 0 else 0o700
        assert stat.S_IMODE(private.stat().st_mode) == expected
        assert stat.S_IMODE((private / "alt").stat().st_mode) == expected


def test_configured_urls_are_used_as_given(tmp_path: Path) -> None:
    app, auth = "postgresql://alt@db.example/alt", "postgresql://alt@auth.example/alt_auth"
    settings = load_settings(ALT_DATA_DIR=str(tmp_path), DATABASE_URL=app, AUTH_DATABASE_URL=auth)
    with embedded.database_urls(settings) as urls:
        assert urls == {Database.APP: app, Database.AUTH: auth}
    assert not (tmp_path / "postgres").exists()


def test_database_url_without_auth_database_url_is_refused(tmp_path: Path) -> None:
    settings = load_settings(
        ALT_DATA_DIR=str(tmp_path), DATABASE_URL="postgresql://alt@db/alt", AUTH_DATABASE_URL=None
    )
    with pytest.raises(ConfigError, match="AUTH_DATABASE_URL"), embedded.database_urls(settings):
        pass

    env = {**os.environ, "ALT_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://alt@db/alt"}
    env.pop("AUTH_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "alt.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "AUTH_DATABASE_URL" in result.stderr
    assert not (tmp_path / "postgres").exists()
