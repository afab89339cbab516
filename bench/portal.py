"""The domain pages at scale, operators' and a tenant's: server time and queries per page.

    .venv/bin/python bench/portal.py [--domains 100000] [--repeat 30]

Creates (and afterwards drops) a database of its own, --database-url (default
SERWEB_BENCH_PORTAL_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench_portal;
its name must contain "bench", as it is dropped), migrates it and fills it in SQL: N
domains of two names each (the canonical name and an alias), one in ten owned by one of
fifty tenants (half of those by the first, "tenant-0"), one in ten suspect, a DNS check for nine in ten, a proxy that has not
loaded the last hour's changes. Then, as a signed-in operator, it asks each page --repeat
times through Django's request handler in this process (middleware, views, templates: the
server's time without a network; database connections kept, as in production) and prints
the median and the 95th percentile (nearest rank), the median CPU time of this process
(what a page costs serweb whatever else runs on the machine), the queries one answer asks
(the same for every answer, or the script fails) and the median time they took:

- the domain list's first page;
- a filtered page (suspect, DNS verdict "points elsewhere", enabled);
- one tenant's domains, newest first;
- a search by an alias (a part of one, as a person types it);
- a deep page: the one after the 90 % mark, reached by its cursor;
- what one proxy has not loaded yet;
- one domain's page;

and as tenant-0's owner (N / 20 domains) its pages:

- its domain list's first page, a page deep in it, a search by a part of an alias;
- one of its domains' page.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, percentile, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_portal"
TARGET_MS = 150


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="requests per page")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_PORTAL_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a PostgreSQL database whose name contains 'bench'; dropped and recreated",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.domains < 100 or args.repeat < 1:
        parser.error("--domains must be at least 100, --repeat at least 1")
    return args


def execute(sql_text: str, params: list | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql_text, params or [])


def fill(domains: int) -> None:
    """The rows, as the services would have written them, made by PostgreSQL alone."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from domains.models import Tenant
    from proxies.models import Proxy

    users = get_user_model()
    with transaction.atomic():
        owners = users.objects.bulk_create(users(username=f"owner{i}") for i in range(50))
        Tenant.objects.bulk_create(
            Tenant(name=f"tenant-{i}", owner=owner) for i, owner in enumerate(owners)
        )
        first_tenant = Tenant.objects.order_by("pk").values_list("pk", flat=True)[0]
        execute(
            """INSERT INTO domains_domain
                 (did, state, enabled, origin, tenant_id, created_at, updated_at, state_changed_at)
               SELECT 'd' || i || '.bench.test',
                      CASE WHEN i %% 10 = 3 THEN 'suspect' ELSE 'active' END,
                      i %% 50 <> 7,
                      CASE WHEN i %% 10 = 0 THEN 'tenant' ELSE 'operator' END,
                      CASE WHEN i %% 10 = 0 THEN %s + CASE WHEN (i / 10) %% 2 = 0 THEN 0
                                                          ELSE (i / 10) %% 50 END END,
                      now() - (%s - i) * interval '1 minute',
                      now() - (%s - i) * interval '1 minute',
                      now() - (%s - i) * interval '1 minute'
               FROM generate_series(0, %s - 1) i""",
            [first_tenant, domains, domains, domains, domains],
        )
        execute(
            """INSERT INTO domains_domainname (domain_id, name, kind, is_canonical, created_at)
               SELECT id, did, 'hostname', true, created_at FROM domains_domain
               UNION ALL
               SELECT id, 'sip.' || did, 'hostname', false, created_at FROM domains_domain"""
        )
        execute(
            """INSERT INTO domains_domaincheck
                 (domain_id, managed, verdict, outcome, reason, evidence, checked_at,
                  negatives, unknowns)
               SELECT id, true,
                      CASE WHEN state = 'suspect' THEN 'foreign' ELSE 'ours' END,
                      CASE WHEN state = 'suspect' THEN 'negative' ELSE 'positive' END,
                      '', '{}', now(), 0, 0
               FROM domains_domain WHERE id %% 10 <> 5"""
        )
        Proxy.objects.create(
            name="edge-1",
            transport="udp",
            address="127.0.0.1:9",
            applied_changed_at=timezone.now() - timezone.timedelta(hours=1),
        )
    execute("ANALYZE")


def measure(client, url: str, repeat: int) -> tuple[list[float], list[float], list[float], int]:
    """For ``repeat`` answers: their server times, this process's CPU time for each and the
    time their queries took (s); and how many queries one answer asks."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def ask():
        with CaptureQueriesContext(connection) as queries:
            started, cpu = time.perf_counter(), time.process_time()
            answer = client.get(url, secure=True, HTTP_HOST="localhost")
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if answer.status_code != 200:
            raise SystemExit(f"{url}: {answer.status_code}")
        return elapsed, cpu, sum(float(query["time"]) for query in queries), len(queries)

    ask()  # warm: the first answer compiles templates and fills caches
    answers = [ask() for _ in range(repeat)]
    counts = {answer[3] for answer in answers}
    if len(counts) != 1:
        raise SystemExit(f"{url}: the number of queries changed between answers: {counts}")
    times, cpus, sqls, _counts = zip(*answers, strict=True)
    return list(times), list(cpus), list(sqls), counts.pop()


def pages(domains: int) -> list[tuple[str, str]]:
    from domains.models import Domain
    from portal.paging import encode_cursor

    deep = Domain.objects.order_by("did", "id")[int(domains * 0.9)]
    middle = f"d{domains // 2 + 17}.bench.test"
    return [
        ("list, first page", "/domains/"),
        ("list, filtered", "/domains/?state=suspect&verdict=foreign&enabled=true"),
        ("list, filtered by tenant", "/domains/?tenant=tenant-3&ordering=-created_at"),
        ("list, search by alias", f"/domains/?search=sip.d{domains // 3}7."),
        ("list, deep page", "/domains/?after=" + encode_cursor(deep, ["did", "id"])),
        ("list, not loaded by a proxy", "/domains/?pending=edge-1"),
        ("domain page", f"/domain/{middle}/"),
    ]


def tenant_pages(domains: int) -> list[tuple[str, str]]:
    from domains.models import Domain, Tenant
    from portal.paging import encode_cursor

    mine = Domain.objects.filter(tenant=Tenant.objects.get(name="tenant-0")).order_by("did", "id")
    held = mine.count()
    middle = mine[held // 2].did
    deep = encode_cursor(mine[int(held * 0.9)], ["did", "id"])
    return [
        ("tenant: list, first page", "/my/domains/"),
        ("tenant: list, deep page", f"/my/domains/?after={deep}"),
        ("tenant: search by alias", f"/my/domains/?search=sip.{middle[:-12]}"),
        ("tenant: domain page", f"/my/domains/{middle}/"),
    ]


def main() -> None:
    args = parse_arguments()
    database = recreate_database(args.database_url)
    # Connections kept between requests, as in production (README: DATABASE_CONN_MAX_AGE).
    os.environ["DATABASE_CONN_MAX_AGE"] = "60"
    configure_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(args.domains)
    filled = time.perf_counter() - started
    from domains.models import Tenant

    operator = get_user_model().objects.create_user("operator", is_staff=True)
    client = Client()
    client.force_login(operator)
    tenant_client = Client()
    tenant_client.force_login(Tenant.objects.get(name="tenant-0").owner)

    print(
        f"serweb portal pages: PostgreSQL {connection.pg_version // 10000}, database "
        f"{database}, {os.cpu_count()} CPUs"
    )
    print(
        f"{args.domains:,} domains ({2 * args.domains:,} names), filled in {filled:.1f} s; "
        f"{args.repeat} requests per page, server time in this process"
    )
    print(f"{'page':<30} {'median':>9} {'p95':>9} {'CPU':>9} {'queries':>8} {'SQL':>9}")
    worst = 0.0
    visits = [(client, label, url) for label, url in pages(args.domains)]
    visits += [(tenant_client, label, url) for label, url in tenant_pages(args.domains)]
    for who, label, url in visits:
        times, cpus, sqls, queries = measure(who, url, args.repeat)
        median, p95 = statistics.median(times) * 1000, percentile(times, 0.95) * 1000
        cpu, sql = statistics.median(cpus) * 1000, statistics.median(sqls) * 1000
        worst = max(worst, median)
        print(
            f"{label:<30} {median:>6.1f} ms {p95:>6.1f} ms {cpu:>6.1f} ms {queries:>8} "
            f"{sql:>6.1f} ms"
        )
    verdict = "met" if worst < TARGET_MS else "NOT MET"
    print(f"target: every page under {TARGET_MS} ms (median): {verdict}, slowest {worst:.1f} ms")

    connection.close()
    if not args.keep:
        recreate_database(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()
