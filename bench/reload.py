"""Proxy reload benchmark: serweb's reload path against a real Kamailio at growing sizes.

    .venv/bin/python bench/reload.py [--sizes 1000,10000,100000] [--attributes 0.1]

For each size it creates a database of its own (--database-url, default
SERWEB_BENCH_RELOAD_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench_reload;
the name must contain "bench", as it is dropped), imports that many domains with two
names each (a share of them, --attributes, with one non-default attribute) through the
bulk import, starts Kamailio with the reference configuration and memory sized by the
rules in deploy/kamailio/README.md, and prints:

- reload: domain.reload through serweb (proxy_reload, claim, shared memory check and
  OPTIONS probes included), and the bare RPC, medians of --repeat runs;
- shm: what one copy of the tables took in Kamailio's shared memory (growth at the first
  reload) against serweb's estimate (domains.reload.tables_size_estimate);
- live: commit to live for one more domain (domain_create, reloaded in-process after the
  commit, until an OPTIONS probe answers 200);
- burst: --burst domain creations in one transaction, and the domain.reload calls they
  cost.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_reload"
ROLE = "serweb_bench_reload"
MIB = 1024 * 1024


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="domains, comma-separated")
    parser.add_argument(
        "--attributes", type=float, default=0.0, help="share of domains with an attribute row"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing; medians")
    parser.add_argument("--burst", type=int, default=100, help="changes in one transaction")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_RELOAD_DATABASE_URL") or DEFAULT_DATABASE_URL,
    )
    args = parser.parse_args()
    try:
        args.sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated numbers of domains")
    if min(args.sizes) < 1 or args.repeat < 1 or not 0 <= args.attributes <= 1:
        parser.error("sizes and --repeat must be at least 1, --attributes within 0..1")
    return args


def configure_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "serweb-bench-only-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "serweb.settings"
    # No broker: the reload after a commit runs in-process, so its cost is measurable.
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ.setdefault("LOG_LEVEL", "ERROR")
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


def recreate_database(database_url: str, *, drop_only: bool = False) -> None:
    import dj_database_url
    from psycopg import sql

    name = dj_database_url.parse(database_url)["NAME"]
    if "bench" not in name:
        sys.exit(f"{name}: refusing to drop a database whose name does not contain 'bench'")
    statements = [sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))]
    if not drop_only:
        statements.append(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin_execute(database_url, *statements)


def write_domains(path: Path, count: int, attributes: float) -> None:
    every = round(1 / attributes) if attributes else 0
    with path.open("w", encoding="utf-8") as out:
        out.write("name,aliases,attr.peering_policy\n")
        for index in range(count):
            name = f"d{index}.bench.test"
            attribute = "closed" if every and index % every == 0 else ""
            out.write(f"{name},sip.{name},{attribute}\n")


def kamailio_memory(names: int, copy_bytes: int) -> tuple[int, int]:
    """-m and -M in MB (deploy/kamailio/README.md): shared memory for two copies of the
    tables and serweb's margins, private memory for the rows one process reads."""
    shm = int(16 + 2.6 * copy_bytes / MIB)
    pkg = int(8 + 0.5 * names / 1000)
    return max(shm, 64), pkg


def median_seconds(step: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def measure(size: int, args: argparse.Namespace, directory: Path) -> None:
    from django.db import connection, transaction

    from domains import proxy as transport
    from domains import reload
    from domains.bulk import import_domains_csv
    from domains.models import Proxy
    from domains.proxy_access import proxy_role_grant
    from domains.services import domain_create, proxy_create
    from tests.kamailio_harness import Kamailio, wait_until

    csv_path = directory / f"domains-{size}.csv"
    write_domains(csv_path, size, args.attributes)
    started = time.perf_counter()
    import_domains_csv(actor=None, path=csv_path)
    imported = time.perf_counter() - started

    proxy_role_grant(role=ROLE)
    db = connection.settings_dict
    db_url = (
        f"postgres://{ROLE}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )
    shm_mb, pkg_mb = kamailio_memory(2 * size, reload.tables_size_estimate())
    run_dir = directory / f"kamailio-{size}"
    run_dir.mkdir()
    kamailio = Kamailio(run_dir, db_url, shm_mb=shm_mb, pkg_mb=pkg_mb, reload_log=False)
    start_time, _ = median_seconds(lambda: kamailio.start(timeout=900), 1)
    try:
        proxy = proxy_create(
            actor=None,
            name=f"kam{size}",
            transport="fifo",
            address=kamailio.fifo,
            sip_address=kamailio.sip_address,
        )
        print(f"{size:>8,} domains ({2 * size:,} names), imported in {imported:.1f} s")
        print(f"{'':>8} kamailio -m {shm_mb} -M {pkg_mb}: started in {start_time:.1f} s")

        before = transport.shm_stats("fifo", kamailio.fifo, timeout=5)
        outcome = reload.proxy_reload(proxy.pk, force=True)
        after = transport.shm_stats("fifo", kamailio.fifo, timeout=5)
        report_memory(before, after, reload.tables_size_estimate())
        if not outcome.ok:
            print(f"{'':>8} serweb did not reload: {outcome.status}: {outcome.detail}")
            return

        def serweb_reload() -> None:
            result = reload.proxy_reload(proxy.pk, force=True)
            assert result.ok, result

        reload_s, reload_runs = median_seconds(serweb_reload, args.repeat)
        rpc_s, _ = median_seconds(
            lambda: transport.domain_reload("fifo", kamailio.fifo, timeout=600), args.repeat
        )
        runs = ", ".join(f"{t:.3f}" for t in reload_runs)
        print(f"{'':>8} reload via serweb {reload_s:.3f} s ({runs}); bare RPC {rpc_s:.3f} s")

        committed = time.perf_counter()
        domain = domain_create(actor=None, name=f"live-{size}.bench.test")
        wait_until(lambda: kamailio.serves(domain.did), timeout=600, what="live")
        print(f"{'':>8} commit to live {time.perf_counter() - committed:.3f} s")

        reloads_before = Proxy.objects.get(pk=proxy.pk).reload_count
        started = time.perf_counter()
        with transaction.atomic():
            for index in range(args.burst):
                domain_create(actor=None, name=f"burst{index}-{size}.bench.test")
        burst = time.perf_counter() - started
        reloads = Proxy.objects.get(pk=proxy.pk).reload_count - reloads_before
        print(f"{'':>8} burst of {args.burst} changes in {burst:.2f} s: {reloads} reload(s)")
    finally:
        kamailio.stop()


def report_memory(before, after, estimate: int) -> None:
    # What a copy costs is what it takes from the free memory: the allocator's overhead
    # per fragment counts, and is several times the payload.
    copy = before.free - after.free
    print(
        f"{'':>8} shm in use {(before.total - before.free) / MIB:.1f} MiB after start, "
        f"{(after.total - after.free) / MIB:.1f} MiB after the first reload (one copy: "
        f"{copy / MIB:.1f} MiB); serweb's estimate of a copy {estimate / MIB:.1f} MiB "
        f"({estimate / copy:.2f}x)"
    )


def main() -> None:
    args = parse_arguments()
    configure_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    try:
        for size in args.sizes:
            connection.close()
            recreate_database(args.database_url)
            call_command("migrate", verbosity=0)
            with tempfile.TemporaryDirectory(prefix="serweb-bench-reload-") as directory:
                measure(size, args, Path(directory))
    finally:
        connection.close()
        recreate_database(args.database_url, drop_only=True)
        admin_execute(args.database_url, f"DROP ROLE IF EXISTS {ROLE}")


if __name__ == "__main__":
    main()
