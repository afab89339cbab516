"""Shared test helpers: reading what the proxy reads, requests in parallel."""

import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection, connections


def database_url() -> str:
    """The URL of the test database, for a server process the test starts."""
    db = connection.settings_dict
    return (
        f"postgres://{db.get('USER') or 'postgres'}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def proxy_relation(name: str) -> str:
    """The proxy-facing relation as SQL: schema-qualified on PostgreSQL."""
    if connection.vendor == "postgresql":
        return f'"{settings.SERWEB_PROXY_SCHEMA}".{name}'
    return name


def proxy_rows(name: str, columns: str) -> list[tuple]:
    """Rows of a proxy-facing relation, sorted, as the proxy would read them."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {proxy_relation(name)} ORDER BY {columns}")
        return [tuple(row) for row in cursor.fetchall()]


def in_parallel(count: int, work: Callable[[int], object]) -> list:
    """``work(i)`` in ``count`` threads released at once, each with its own database
    connection; their results (or exceptions) in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request never finished"
    return results
