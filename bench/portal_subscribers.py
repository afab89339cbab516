"""The operators' subscriber pages at scale: server time and queries per page.

    .venv/bin/python bench/portal_subscribers.py [--domains 100000 --subscribers 1000000]

Creates (and afterwards drops, unless --keep) a database of its own, --database-url
(default SERWEB_BENCH_PORTAL_SUBSCRIBERS_DATABASE_URL or
postgres://postgres@127.0.0.1:5432/serweb_bench_portal_subscribers; its name must contain
"bench"), migrates it and fills it in SQL as bench/provision.py does (every domain with two
names, subscribers spread over the domains, one valid From row each), then asks for each
page --repeat times through Django's request handling in this process (middleware,
session, views, templates; no network) as a signed-in operator, and prints the median and
p95 (nearest rank) of the server time, the median CPU time of this process (the server
time without the database's and other processes' share of a busy machine), the number of
queries and the slowest query.
--reuse keeps a database already filled with these sizes (from a run with --keep).
"""

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_portal_subscribers"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50, help="requests per page; medians")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_PORTAL_SUBSCRIBERS_DATABASE_URL")
        or DEFAULT_DATABASE_URL,
        help="a PostgreSQL database whose name contains 'bench'; dropped and recreated",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the kept database as it is")
    args = parser.parse_args()
    if args.domains < 1 or args.subscribers < args.domains or args.repeat < 1:
        parser.error("--domains and --repeat must be at least 1, --subscribers at least --domains")
    return args


def fill(domains: int, subscribers: int) -> float:
    from django.core.management import call_command
    from django.db import connection

    from bench.provision import server_side_domains, server_side_subscribers

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    server_side_domains(domains)
    server_side_subscribers(subscribers, domains)
    with connection.cursor() as cursor:
        # One in a thousand switched off, for the search of the disabled ones.
        cursor.execute("UPDATE subscribers_subscriber SET enabled = false WHERE id % 1000 = 0")
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def filled_with(domains: int, subscribers: int) -> bool:
    from django.db import DatabaseError

    try:
        from domains.models import Domain
        from subscribers.models import Subscriber

        return Domain.objects.count() == domains and Subscriber.objects.count() == subscribers
    except DatabaseError:
        return False


def operator_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def pages(domains: int, subscribers: int) -> list[tuple[str, str]]:
    from subscribers.models import Subscriber

    deep = Subscriber.objects.order_by("domain_id", "username").values_list(
        "domain_id", "username"
    )[int(subscribers * 0.9)]
    middle = domains // 2
    one = Subscriber.objects.get(domain__did=f"d{middle}.bench.test", username=f"u{middle}")
    return [
        ("list, first page", "/subscribers/"),
        ("search, rare user-name start", "/subscribers/?q=u12345"),
        ("search, common user-name start", "/subscribers/?q=u1"),
        ("search, user@alias", f"/subscribers/?q=u{middle}%40sip.d{middle}.bench.test"),
        ("search, one domain's list", f"/subscribers/?domain=sip.d{middle}.bench.test"),
        ("search, disabled ones", "/subscribers/?enabled=false"),
        ("deep page (90 %)", f"/subscribers/?after={deep[0]}%3A{deep[1]}"),
        ("subscriber page", f"/subscribers/{one.pk}/"),
    ]


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure(client, url: str, repeat: int) -> tuple[list[float], list[float], int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm caches and connections
        assert client.get(url).status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    # Read now: the next request empties the connection's log of queries.
    count = len(queries)
    slowest = max(float(query["time"]) for query in queries.captured_queries)
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = client.get(url)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert answer.status_code == 200, url
    return times, cpu, count, slowest


def main() -> None:
    args = parse_arguments()
    if not args.reuse:
        recreate_database(args.database_url)
    configure_django(args.database_url)
    from django.db import connections

    try:
        if not (args.reuse and filled_with(args.domains, args.subscribers)):
            if args.reuse:
                connections.close_all()
                recreate_database(args.database_url)
            took = fill(args.domains, args.subscribers)
            print(
                f"filled {args.domains:,} domains ({2 * args.domains:,} names) and "
                f"{args.subscribers:,} subscribers in {took:.1f} s"
            )
        client = operator_client()
        print(
            f"{'page':<32} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'queries':>8} "
            f"{'slowest query ms':>17}"
        )
        for label, url in pages(args.domains, args.subscribers):
            times, cpu, queries, slowest = measure(client, url, args.repeat)
            print(
                f"{label:<32} {statistics.median(times) * 1000:>10.1f} "
                f"{percentile(times, 0.95) * 1000:>8.1f} {statistics.median(cpu) * 1000:>7.1f} "
                f"{queries:>8} {slowest * 1000:>17.1f}"
            )
    finally:
        connections.close_all()
        if not args.keep:
            recreate_database(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()
