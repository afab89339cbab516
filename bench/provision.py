"""Bulk provisioning benchmark: the import path against PostgreSQL doing the same work itself.

    .venv/bin/python bench/provision.py [--domains 100000 --subscribers 1000000 --sample 1000]

Creates (and afterwards drops) a database of its own, --database-url (default
SERWEB_BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench; its name must
contain "bench", as it is dropped) and migrates it from scratch. For domains
(two names and two non-default attributes each) and subscribers (one valid From row each)
it prints the rate of the bulk import (domains.bulk / subscribers.bulk, timed from a CSV
file already on disk to the commit), the time PostgreSQL takes to insert the same rows
from generate_series into the same, emptied, tables, and their ratio; then the rate of
creating a sample of domains one by one with domain_create (one transaction and one
reload each, as kamctl and kamcli do), and the peak memory of this process.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench"
PASSWORD = "bench-password-1"


def domain_name(index: int) -> str:
    return f"d{index}.bench.test"


# --- setting up ---------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=1000, help="domains created one by one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing; medians")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a PostgreSQL database whose name contains 'bench'; dropped and recreated",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations during the imports (slows them down)",
    )
    args = parser.parse_args()
    if args.domains < 1 or args.subscribers < 0 or args.sample < 1 or args.repeat < 1:
        parser.error("--domains, --sample and --repeat must be at least 1")
    return args


def write_files(directory: Path, *, domains: int, subscribers: int) -> tuple[Path, Path]:
    domain_file = directory / "domains.csv"
    with domain_file.open("w", encoding="utf-8") as out:
        out.write("name,aliases,attr.peering_policy,attr.max_contacts\n")
        for i in range(domains):
            name = domain_name(i)
            out.write(f"{name},sip.{name},closed,10\n")
    subscriber_file = directory / "subscribers.csv"
    with subscriber_file.open("w", encoding="utf-8") as out:
        out.write("username,domain,password\n")
        for i in range(subscribers):
            out.write(f"u{i},{domain_name(i % domains)},{PASSWORD}\n")
    return domain_file, subscriber_file


# --- measuring ----------------------------------------------------------------------------


def execute(sql_text: str, params: list | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql_text, params or [])
        return cursor.fetchone() if cursor.description else None


def quiesce() -> None:
    # Start every timing with no dirty pages left over from the previous one.
    execute("CHECKPOINT")


def generation() -> int:
    from proxies.models import ReloadState

    return ReloadState.objects.get(pk=1).desired_generation


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    quiesce()
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def empty_subscribers() -> None:
    execute(
        "TRUNCATE subscribers_validfrom, subscribers_useralias, subscribers_subscriber "
        "RESTART IDENTITY"
    )


def empty_domains() -> None:
    empty_subscribers()
    execute("TRUNCATE domains_domainattribute, domains_domainname, domains_domain CASCADE")


def server_side_domains(count: int) -> None:
    """The rows import_domains writes for the benchmark file, made by PostgreSQL alone."""
    from django.db import transaction

    with transaction.atomic():
        execute(
            """INSERT INTO domains_domain (did, state, enabled, origin)
               SELECT 'd' || i || '.bench.test', 'active', true, 'operator'
               FROM generate_series(0, %s - 1) i""",
            [count],
        )
        execute(
            """INSERT INTO domains_domainname (domain_id, name, kind, is_canonical)
               SELECT id, did, 'hostname', true FROM domains_domain
               UNION ALL SELECT id, 'sip.' || did, 'hostname', false FROM domains_domain"""
        )
        execute(
            """INSERT INTO domains_domainattribute
                 (domain_id, name, type, value, source, is_default)
               SELECT id, 'peering_policy', 2, 'closed', 'operator', false FROM domains_domain
               UNION ALL
               SELECT id, 'max_contacts', 0, '10', 'operator', false FROM domains_domain"""
        )


def server_side_subscribers(count: int, domains: int) -> None:
    """The rows import_subscribers writes for the benchmark file (hashes included)."""
    from django.db import transaction

    with transaction.atomic():
        execute(
            """INSERT INTO subscribers_subscriber
                 (domain_id, username, ha1, ha1b, ha1_realm, password, email, enabled)
               SELECT d.id, 'u' || i, md5('u' || i || ':' || d.did || ':' || %s),
                      md5('u' || i || '@' || d.did || ':' || d.did || ':' || %s),
                      d.did, '', '', true
               FROM generate_series(0, %s - 1) i
               JOIN domains_domain d ON d.did = 'd' || (i %% %s) || '.bench.test'""",
            [PASSWORD, PASSWORD, count, domains],
        )
        execute(
            """INSERT INTO subscribers_validfrom (subscriber_id, from_user)
               SELECT id, username FROM subscribers_subscriber"""
        )


def one_by_one(sample: int) -> None:
    from domains.services import domain_create

    for i in range(sample):
        name = f"s{i}.sample.test"
        domain_create(
            actor=None,
            name=name,
            aliases=[f"sip.{name}"],
            attributes={"peering_policy": "closed", "max_contacts": "10"},
        )


def megabytes_max_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- reporting ----------------------------------------------------------------------------


def seconds(values: list[float]) -> str:
    text = f"{statistics.median(values):8.2f} s"
    if len(values) > 1:
        text += f" (median of {', '.join(f'{v:.2f}' for v in values)})"
    return text


def rate(rows: int, elapsed: float) -> str:
    return f"{rows / elapsed:>10,.0f} rows/s"


def report_pair(label: str, rows: int, bulk: list[float], server: list[float]) -> None:
    bulk_s, server_s = statistics.median(bulk), statistics.median(server)
    print(f"{label:<12} bulk import   {seconds(bulk)} {rate(rows, bulk_s)}")
    print(f"{'':<12} server-side   {seconds(server)} {rate(rows, server_s)}")
    print(f"{'':<12} bulk / server-side: {bulk_s / server_s:.2f}x the time")


def main() -> None:
    args = parse_arguments()
    database_url = args.database_url
    database = recreate_database(database_url)
    configure_django(database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from domains.bulk import import_domains_csv
    from subscribers.bulk import import_subscribers_csv

    call_command("migrate", verbosity=0)
    actor = get_user_model().objects.create_user("bench", is_staff=True)
    baseline_rss = megabytes_max_rss()
    if args.tracemalloc:
        tracemalloc.start()

    bulk_domains, bulk_subscribers, server_domains, server_subscribers = [], [], [], []
    bumps: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory(prefix="serweb-bench-") as directory:
        domain_file, subscriber_file = write_files(
            Path(directory), domains=args.domains, subscribers=args.subscribers
        )
        for _run in range(args.repeat):
            empty_domains()
            before = generation()
            elapsed, domain_summary = timed(
                lambda: import_domains_csv(actor=actor, path=domain_file)
            )
            bulk_domains.append(elapsed)
            middle = generation()
            elapsed, subscriber_summary = timed(
                lambda: import_subscribers_csv(actor=actor, path=subscriber_file)
            )
            bulk_subscribers.append(elapsed)
            bumps.append((middle - before, generation() - middle))

            empty_subscribers()
            server_subscribers.append(
                timed(lambda: server_side_subscribers(args.subscribers, args.domains))[0]
            )
            empty_domains()
            server_domains.append(timed(lambda: server_side_domains(args.domains))[0])
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    tracemalloc.stop()

    before = generation()
    sample_elapsed = timed(lambda: one_by_one(args.sample))[0]
    sample_bumps = generation() - before

    print(
        f"serweb bulk provisioning: PostgreSQL {connection.pg_version // 10000}, database "
        f"{database}, {os.cpu_count()} CPUs"
    )
    print(
        f"files: {domain_summary.domains:,} domains ({domain_summary.names:,} names, "
        f"{domain_summary.attributes:,} attributes); {subscriber_summary.subscribers:,} "
        f"subscribers ({subscriber_summary.valid_froms:,} valid From rows)"
    )
    report_pair("domains", args.domains, bulk_domains, server_domains)
    report_pair("subscribers", args.subscribers, bulk_subscribers, server_subscribers)
    per_file = all(bumps_of_run == (1, 1) for bumps_of_run in bumps)
    print(
        "generation bumps per bulk import: domains "
        + ", ".join(str(d) for d, _s in bumps)
        + "; subscribers "
        + ", ".join(str(s) for _d, s in bumps)
        + ("  (exactly one per file)" if per_file else "  (EXPECTED EXACTLY ONE PER FILE)")
    )
    sample_rate = args.sample / sample_elapsed
    bulk_rate = args.domains / statistics.median(bulk_domains)
    print(
        f"one by one   {args.sample:,} domains with domain_create: {sample_elapsed:.2f} s, "
        f"{sample_rate:,.0f} domains/s, {sample_bumps:,} generation bumps"
    )
    print(f"{'':<12} bulk rate / one-by-one rate: {bulk_rate / sample_rate:,.0f}x")
    print(
        f"memory       peak RSS {megabytes_max_rss():,.0f} MB (ru_maxrss; "
        f"{baseline_rss:,.0f} MB before the imports)"
        + (f"; tracemalloc peak {traced_peak:,.0f} MB" if traced_peak is not None else "")
    )

    connection.close()
    if not args.keep:
        recreate_database(database_url, drop_only=True)


if __name__ == "__main__":
    main()
