"""What the benchmarks share: a scratch PostgreSQL database and Django set up on it."""

import math
import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "serweb-bench-only-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "serweb.settings"
    # No broker: the reload after a commit runs in-process, so its cost is measured.
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def admin_execute(database_url: str, *statements) -> None:
    """Run statements in the server's "postgres" database, outside any transaction."""
    import dj_database_url
    import psycopg

    params = dj_database_url.parse(database_url)
    with psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        for statement in statements:
            admin.execute(statement)


def recreate_database(database_url: str, *, drop_only: bool = False) -> str:
    """Drop the database (and create it anew); only one whose name says it is a bench's."""
    import dj_database_url
    from psycopg import sql

    name = dj_database_url.parse(database_url)["NAME"]
    if "bench" not in name:
        sys.exit(f"{name}: refusing to drop a database whose name does not contain 'bench'")
    statements = [sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))]
    if not drop_only:
        statements.append(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin_execute(database_url, *statements)
    return name


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port} after {timeout} s")


def percentile(values: list[float], share: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def run_sizes(args, role: str, prefix: str, measure) -> dict:
    """``measure(size, args, directory, results)`` for each of ``args.sizes``, each in a
    freshly migrated database (``args.database_url``) and a scratch directory; the
    database and the proxy's ``role`` are dropped afterwards, whatever happens."""
    import tempfile

    configure_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    results: dict = {}
    try:
        for size in args.sizes:
            connection.close()
            recreate_database(args.database_url)
            call_command("migrate", verbosity=0)
            with tempfile.TemporaryDirectory(prefix=prefix) as directory:
                measure(size, args, Path(directory), results)
    finally:
        connection.close()
        recreate_database(args.database_url, drop_only=True)
        admin_execute(args.database_url, f"DROP ROLE IF EXISTS {role}")
    return results
