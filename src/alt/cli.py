"""The `alt` command: run the whole system, run one service, migrate, manage users."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from alt.config import ConfigError, Settings, load_settings, settings_markdown
from alt.services import SERVICES, Database

if TYPE_CHECKING:
    from starlette.types import ASGIApp


# Tells each worker process of `alt serve` which service it is (uvicorn starts them afresh).
SERVE_SERVICE_ENV = "ALT_SERVE_SERVICE"


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    spec = SERVICES[args.service]
    options: dict[str, Any] = {
        "host": args.host or settings.bind_host,
        "port": args.port or settings.service_port(spec.name),
        "proxy_headers": False,  # forwarding headers are never trusted for identity or limits
        "server_header": False,
        "log_config": None,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }
    if settings.workers == 1:
        uvicorn.Server(uvicorn.Config(serve_app(spec.name, settings), **options)).run()
        return 0
    # uvicorn binds the port once and runs each worker in a process of its own, which builds
    # the app anew from the environment. The workers keep their metrics in files of a directory
    # of this run's own, named before any of them imports prometheus_client.
    from alt.platform.logging import configure_logging
    from alt.platform.metrics import MULTIPROCESS_DIR_ENV

    configure_logging(spec.name, settings.log_level)
    os.environ[SERVE_SERVICE_ENV] = spec.name
    metrics_dir = tempfile.mkdtemp(prefix="alt-metrics-")
    os.environ[MULTIPROCESS_DIR_ENV] = metrics_dir
    try:
        uvicorn.run("alt.cli:worker_app", factory=True, workers=settings.workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def serve_app(service: str, settings: Settings) -> ASGIApp:
    from alt.platform.http_app import create_app
    from alt.platform.logging import configure_logging

    spec = SERVICES[service]
    configure_logging(spec.name, settings.log_level)
    module = importlib.import_module(spec.module)
    return create_app(spec, settings, module.parts(settings))


def worker_app() -> ASGIApp:
    """The app of one worker process of `alt serve` with ALT_WORKERS > 1."""
    return serve_app(os.environ[SERVE_SERVICE_ENV], load_settings())


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from alt.platform.embedded import database_urls
    from alt.platform.migrate import migrate

    with database_urls(settings) as urls:
        for database in (Database.APP, Database.AUTH):
            if args.database in (None, database.value):
                applied = migrate(urls[database], database)
                print(f"{database.value}: applied {', '.join(applied) or 'nothing, up to date'}")
    return 0


def _user_create(args: argparse.Namespace, settings: Settings) -> int:
    from alt.auth.users import create_user_from_cli

    return create_user_from_cli(
        settings, args.email, admin=args.admin, password_stdin=args.password_stdin
    )


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from alt.up import run_up

    return run_up(settings)


def _settings(args: argparse.Namespace) -> int:
    print(settings_markdown(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run every service on this machine")
    up.set_defaults(run=_up)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=list(SERVICES))
    serve.add_argument("--host", help="address to listen on (default ALT_BIND_HOST)")
    serve.add_argument("--port", type=int, help="port (default: the port of the service's URL)")
    serve.set_defaults(run=_serve)

    mig = commands.add_parser("migrate", help="bring the databases' schemas up to date")
    mig.add_argument("--database", choices=[d.value for d in Database])
    mig.set_defaults(run=_migrate)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create a user (asks for the password)")
    create.add_argument("email")
    create.add_argument("--admin", action="store_true", help="give the user the admin role")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking",
    )
    create.set_defaults(run=_user_create)

    documented = commands.add_parser(
        "settings", help="print the table of every setting (docs/SETTINGS.md)"
    )
    documented.set_defaults(document=_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if "document" in args:  # needs no settings, so it works while they are wrong
        document: Callable[[argparse.Namespace], int] = args.document
        return document(args)
    run: Callable[[argparse.Namespace, Settings], int] = args.run
    try:
        return run(args, load_settings())
    except ConfigError as exc:
        print(f"alt: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
