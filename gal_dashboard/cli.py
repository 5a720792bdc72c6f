"""
`gal-live`: the console script of the installed package (pyproject.toml, `[project.scripts]`).

    gal-live serve [daphne options]            daphne, through gal_dashboard.serve (redacted
                                               output, message limit, timeouts); the ASGI
                                               application defaults to gal_dashboard.asgi
    gal-live serve uvicorn [uvicorn options]   uvicorn instead (needs `gal-live[uvicorn]`)
    gal-live manage <command> [options]        Django's manage.py: migrate, collectstatic, ...
    gal-live check                             is this process ready to serve: Django's system
                                               checks (with --deploy unless DEBUG), the database
                                               answers with every migration applied, Redis
                                               answers when REDIS_URL is set; exit 1 otherwise

Settings come from the environment, as for a checkout (README.md, "Settings"); VAR_DIR (the
SQLite database, collected static files, uploads) defaults to ./var of the current directory.
"""

from __future__ import annotations

import os
import re
import sys

USAGE = __doc__.split("\n\n")[1] if __doc__ else ""
APPLICATION = "gal_dashboard.asgi:application"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gal_dashboard.settings")
    import django

    django.setup()


def serve_arguments(args: list[str]) -> list[str]:
    """Both servers take the application (module:attribute) as their one positional argument:
    ours unless the caller named one."""
    if any(re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", arg) for arg in args):
        return args
    return [*args, APPLICATION]


def serve(args: list[str]) -> int:
    from gal_dashboard import serve as server

    server.main(serve_arguments(args))
    return 0


def manage(args: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gal_dashboard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gal-live manage", *args])
    return 0


def _redis_answers(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check(args: list[str]) -> int:
    if args:
        print("gal-live check takes no options", file=sys.stderr)
        return 2
    _django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    failures = 0
    # Raises SystemCheckError (a CommandError: printed, exit 1) on any error-level finding.
    call_command("check", deploy=not settings.DEBUG, databases=["default"])
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        print(f"database: FAILED ({type(exc).__name__}: {exc})")
        failures += 1
    else:
        if pending:
            count = f"{len(pending)} migration{'s' if len(pending) != 1 else ''}"
            print(f"database: FAILED ({count} to apply: gal-live manage migrate)")
            failures += 1
        else:
            print(f"database: ok ({connection.vendor}, every migration applied)")
    if settings.REDIS_URL:
        error = _redis_answers(settings.REDIS_URL)
        print(f"redis: FAILED ({error})" if error else "redis: ok")
        failures += bool(error)
    else:
        print("redis: not configured (in-memory channel layer: one server process only)")
    return 1 if failures else 0


COMMANDS = {"serve": serve, "manage": manage, "check": check}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        print(f"usage:\n{USAGE}", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    return COMMANDS[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
