"""Backup round trip benchmark: export backup, restore into the emptied database, export
again, and compare the two files byte for byte.

    .venv/bin/python bench/backup.py [--domains 10000 --subscribers 100000 --repeat 3]

Creates (and afterwards drops) a database of its own, --database-url (default
SERWEB_BENCH_BACKUP_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench_backup;
its name must contain "bench", as it is dropped), fills it with the bulk importers
(domains with an alias and an attribute, subscribers with a password, one extra valid
From identity each and a user alias for every tenth), plus tenants with claims and a
proxy, then per run times the export, the restore (from the file to the commit) and the
second export, and checks that both files are identical. Prints the medians, the file's
size and the process's peak RSS.
"""

import argparse
import filecmp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_backup"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="round trips; medians")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_BACKUP_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a PostgreSQL database whose name contains 'bench'; dropped and recreated",
    )
    args = parser.parse_args()
    if args.domains < 1 or args.subscribers < 0 or args.repeat < 1:
        parser.error("--domains and --repeat must be at least 1")
    return args


def fill(domains: int, subscribers: int) -> None:
    from domains.bulk import import_domains
    from domains.dns.claims import domain_claim_start
    from domains.services import tenant_create
    from proxies.services import proxy_create
    from subscribers.bulk import import_subscribers
    from subscribers.models import Subscriber, UserAlias

    import_domains(
        actor=None,
        rows=(
            {"name": f"d{i}.bench.test", "aliases": f"sip.d{i}.bench.test", "attr.tier": "gold"}
            for i in range(domains)
        ),
    )
    import_subscribers(
        actor=None,
        rows=(
            {
                "username": f"u{i}",
                "domain": f"d{i % domains}.bench.test",
                "password": "bench-password-1",
                "valid_from": f"+49{i}",
            }
            for i in range(subscribers)
        ),
    )
    UserAlias.objects.bulk_create(
        UserAlias(domain_id=domain_id, username=f"a{username}", subscriber_id=pk)
        for pk, domain_id, username in Subscriber.objects.values_list(
            "pk", "domain_id", "username"
        )[::10]
    )
    for t in range(10):
        tenant = tenant_create(actor=None, name=f"Tenant {t}", owner_username=f"owner{t}")
        domain_claim_start(actor=None, tenant=tenant, name=f"claim{t}.bench.example.com")
    proxy_create(actor=None, name="local", transport="fifo", address="/run/kamailio/k.fifo")


def empty() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from domains.models import Tenant

    owners = list(Tenant.objects.values_list("owner_id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE domains_domain, domains_tenant, domains_proxy, domains_domainclaim CASCADE"
        )
    get_user_model().objects.filter(pk__in=owners).delete()


def timed(step) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def seconds(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s (" + ", ".join(f"{v:.2f}" for v in values) + ")"


def main() -> None:
    args = parse_arguments()
    database_url = args.database_url
    recreate_database(database_url)
    configure_django(database_url)
    from django.core.management import call_command

    from portability.backup import backup_export, backup_restore

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(args.domains, args.subscribers)
    print(
        f"filled {args.domains:,} domains and {args.subscribers:,} subscribers "
        f"in {time.perf_counter() - started:.1f} s"
    )
    exports, restores, again = [], [], []
    identical = True
    with tempfile.TemporaryDirectory(prefix="serweb-bench-backup-") as directory:
        first, second = Path(directory, "first.json"), Path(directory, "second.json")
        for _run in range(args.repeat):
            exports.append(timed(lambda: backup_export(actor=None, path=first, replace=True)))
            empty()
            restores.append(timed(lambda: backup_restore(actor=None, path=first)))
            again.append(timed(lambda: backup_export(actor=None, path=second, replace=True)))
            identical = identical and filecmp.cmp(first, second, shallow=False)
        size = first.stat().st_size
    print(f"export          {seconds(exports)}")
    print(f"restore         {seconds(restores)}")
    print(f"export again    {seconds(again)}")
    print(
        f"round trip      {'byte-identical' if identical else 'FILES DIFFER'}, {size / 1e6:.1f} MB"
    )
    print(
        f"memory          peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"
    )
    recreate_database(database_url, drop_only=True)
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
