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
  reload) against serweb's estimate (proxies.memory.tables_size_estimate);
- live: commit to live for one more domain (domain_create, reloaded in-process after the
  commit, until an OPTIONS probe answers 200);
- burst: --burst domain creations in one transaction, and the domain.reload calls they
  cost;
- changes: commit to live for each of --changes more domains, one after the other
  (domain_create, the in-process reload after the commit, until an OPTIONS probe answers
  200): median, p95 and maximum, against the bare domain.reload.

At --attr-size domains (default: the largest size) it then compares the two ways to serve
per-domain attributes, with --attr-shares of the domains (default 10 % and 100 %) carrying
one attribute row each (set in SQL):

- domain_attrs: Kamailio's domain module loads them with the domain tables (bare
  domain.reload; its load time is quadratic in the domains with attributes, so it is cut
  off after --attr-timeout seconds and reported as "> N s", and that Kamailio is stopped);
- htable: the reference configuration's WITH_HTABLE_ATTRS variant, where module htable
  loads domain_attrs_htable (bare htable.reload and domain.reload, and serweb's reload
  with SERWEB_PROXY_ATTRIBUTES=htable), plus commit to live for --changes / 5 changes.

A table of the figures closes the run. Smoke run:
    .venv/bin/python bench/reload.py --sizes 500,2000 --changes 10 --attr-timeout 10
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, run_sizes  # noqa: E402

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
        "--changes", type=int, default=100, help="changes timed one by one, commit to live"
    )
    parser.add_argument(
        "--attr-size", type=int, default=None, help="domains for the attribute comparison"
    )
    parser.add_argument(
        "--attr-shares", default="0.1,1", help="shares of domains with an attribute, compared"
    )
    parser.add_argument(
        "--attr-timeout",
        type=float,
        default=60.0,
        help="seconds after which the domain module's attribute load is given up",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_RELOAD_DATABASE_URL") or DEFAULT_DATABASE_URL,
    )
    args = parser.parse_args()
    try:
        args.sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated numbers of domains")
    try:
        args.attr_shares = [float(share) for share in args.attr_shares.split(",") if share]
    except ValueError:
        parser.error("--attr-shares: comma-separated shares, e.g. 0.1,1")
    if args.attr_size is None:
        args.attr_size = max(args.sizes)
    if min(args.sizes) < 1 or args.repeat < 1 or not 0 <= args.attributes <= 1:
        parser.error("sizes and --repeat must be at least 1, --attributes within 0..1")
    if args.changes < 1 or not all(0 < share <= 1 for share in args.attr_shares):
        parser.error("--changes must be at least 1, --attr-shares within (0, 1]")
    return args


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


def changes_to_live(kamailio, size: int, count: int, label: str) -> list[float]:
    """Commit to live for ``count`` new domains, one after the other: domain_create (the
    reload runs in-process after the commit), then until an OPTIONS probe answers 200."""
    from domains.services import domain_create
    from tests.kamailio_harness import wait_until

    times = []
    for index in range(count):
        started = time.perf_counter()
        domain = domain_create(actor=None, name=f"{label}{index}-{size}.bench.test")
        wait_until(lambda did=domain.did: kamailio.serves(did), timeout=600, what="live")
        times.append(time.perf_counter() - started)
    return times


def stop_kamailio(kamailio) -> None:
    """Stop it even in the middle of a reload (its RPC process does not stop at once)."""
    try:
        kamailio.stop()
    except AssertionError:
        # Killed rather than stopped: the FIFO is left behind.
        Path(kamailio.fifo).unlink(missing_ok=True)


def measure(size: int, args: argparse.Namespace, directory: Path, results: dict) -> None:
    from django.db import connection, transaction

    from domains.bulk import import_domains_csv
    from domains.services import domain_create
    from proxies import memory, reload, transport
    from proxies.access import proxy_role_grant
    from proxies.memory import ATTRIBUTE_ROW_BYTES
    from proxies.models import Proxy
    from proxies.services import proxy_create
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
    with_attributes = size == args.attr_size and args.attr_shares
    # Room for the attribute comparison: up to one attribute row per domain.
    attribute_rows = size if with_attributes else 0
    shm_mb, pkg_mb = kamailio_memory(
        2 * size + attribute_rows,
        memory.tables_size_estimate() + attribute_rows * (ATTRIBUTE_ROW_BYTES + 40),
    )
    run_dir = directory / f"kamailio-{size}"
    run_dir.mkdir()
    kamailio = Kamailio(run_dir, db_url, shm_mb=shm_mb, pkg_mb=pkg_mb, reload_log=False)
    start_time, _ = median_seconds(lambda: kamailio.start(timeout=900), 1)
    row = results.setdefault("sizes", {}).setdefault(size, {})
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
        report_memory(before, after, memory.tables_size_estimate())
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
        row.update(bare=rpc_s, serweb=reload_s)

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

        times = changes_to_live(kamailio, size, args.changes, "change")
        row.update(live=times)
        print(
            f"{'':>8} {len(times)} changes, commit to live: median "
            f"{statistics.median(times):.3f} s, p95 {percentile(times, 0.95):.3f} s, "
            f"max {max(times):.3f} s"
        )
        if with_attributes:
            compare_domain_attrs(kamailio, size, args, results)
    finally:
        stop_kamailio(kamailio)
    if with_attributes:
        compare_htable(db_url, size, args, directory, shm_mb, pkg_mb, results)


def set_attribute_share(share: float) -> int:
    """One operator attribute row (a non-default peering policy) on that share of the
    domains, every Nth by id; returns the rows the proxy-facing relations then hold."""
    from django.conf import settings
    from django.db import connection, transaction

    every = max(1, round(1 / share))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM domains_domainattribute WHERE name = 'peering_policy'")
        cursor.execute(
            """INSERT INTO domains_domainattribute
                   (domain_id, name, type, value, source, is_default, updated_at)
               SELECT id, 'peering_policy', 2, 'closed', 'operator', false, now()
               FROM domains_domain WHERE id %% %s = 0""",
            [every],
        )
        cursor.execute(f'SELECT count(*) FROM "{settings.SERWEB_PROXY_SCHEMA}".domain_attrs')
        (rows,) = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE domains_domainattribute")
    return rows


def compare_domain_attrs(kamailio, size: int, args: argparse.Namespace, results: dict) -> None:
    """Kamailio's own attribute load: bare domain.reload with the attribute rows in
    domain_attrs, cut off after --attr-timeout seconds."""
    from proxies import transport

    for share in sorted(args.attr_shares):
        rows = set_attribute_share(share)
        repeat = args.repeat if share < 1 else 1
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                transport.domain_reload("fifo", kamailio.fifo, timeout=args.attr_timeout)
            except transport.ProxyTimeout:
                times = None
                break
            times.append(time.perf_counter() - started)
        entry = results.setdefault("attributes", {}).setdefault(share, {"rows": rows})
        if times is None:
            entry["domain_attrs"] = None
            print(
                f"{'':>8} domain_attrs, {rows:,} attribute rows: domain.reload not done "
                f"after {args.attr_timeout:.0f} s; given up (Kamailio stopped)"
            )
            return
        entry["domain_attrs"] = statistics.median(times)
        print(
            f"{'':>8} domain_attrs, {rows:,} attribute rows: domain.reload "
            f"{statistics.median(times):.3f} s"
        )


def compare_htable(
    db_url: str,
    size: int,
    args: argparse.Namespace,
    directory: Path,
    shm_mb: int,
    pkg_mb: int,
    results: dict,
) -> None:
    """The WITH_HTABLE_ATTRS variant: module htable loads domain_attrs_htable."""
    from django.conf import settings

    from proxies import reload, transport
    from proxies.models import Proxy
    from proxies.services import proxy_create
    from tests.kamailio_harness import Kamailio

    Proxy.objects.update(enabled=False)
    settings.SERWEB_PROXY_ATTRIBUTES = "htable"
    table = settings.SERWEB_PROXY_HTABLE
    run_dir = directory / f"kamailio-htable-{size}"
    run_dir.mkdir()
    # The largest share first: the variant starts with every attribute row to load.
    shares = sorted(args.attr_shares, reverse=True)
    set_attribute_share(shares[0])
    kamailio = Kamailio(
        run_dir,
        db_url,
        shm_mb=shm_mb,
        pkg_mb=pkg_mb,
        reload_log=False,
        defines=("WITH_HTABLE_ATTRS",),
    )
    start_time, _ = median_seconds(lambda: kamailio.start(timeout=900), 1)
    print(f"{'':>8} htable variant started in {start_time:.1f} s")
    try:
        proxy = proxy_create(
            actor=None,
            name=f"kam{size}-htable",
            transport="fifo",
            address=kamailio.fifo,
            sip_address=kamailio.sip_address,
        )
        assert reload.proxy_reload(proxy.pk, force=True).ok
        for index, share in enumerate(shares):
            rows = set_attribute_share(share)
            htable_s, _ = median_seconds(
                lambda: transport.htable_reload("fifo", kamailio.fifo, table, timeout=600),
                args.repeat,
            )
            domain_s, _ = median_seconds(
                lambda: transport.domain_reload("fifo", kamailio.fifo, timeout=600), args.repeat
            )

            def serweb_reload() -> None:
                result = reload.proxy_reload(proxy.pk, force=True)
                assert result.ok, result

            serweb_s, _ = median_seconds(serweb_reload, args.repeat)
            loaded = next(t["all"] for t in kamailio.rpc("htable.stats") if t["name"] == table)
            entry = results.setdefault("attributes", {}).setdefault(share, {"rows": rows})
            entry.update(htable=htable_s, domain=domain_s, serweb=serweb_s, items=loaded)
            print(
                f"{'':>8} htable, {rows:,} attribute rows ({loaded:,} items): htable.reload "
                f"{htable_s:.3f} s + domain.reload {domain_s:.3f} s; via serweb {serweb_s:.3f} s"
            )
            if index == 0:
                count = max(1, args.changes // 5)
                times = changes_to_live(kamailio, size, count, "htchange")
                entry["live"] = times
                print(
                    f"{'':>8} htable, {count} changes, commit to live: median "
                    f"{statistics.median(times):.3f} s, p95 {percentile(times, 0.95):.3f} s"
                )
    finally:
        stop_kamailio(kamailio)
        settings.SERWEB_PROXY_ATTRIBUTES = "domain_attrs"


def print_table(results: dict, args: argparse.Namespace) -> None:
    print()
    print(f"Commit to live, {args.changes} changes one by one (seconds)")
    print(f"{'domains':>9} | {'bare domain.reload':>18} | {'median':>7} | {'p95':>7} | {'max':>7}")
    for size, row in results.get("sizes", {}).items():
        if "live" not in row:
            continue
        live = row["live"]
        print(
            f"{size:>9,} | {row['bare']:>18.3f} | {statistics.median(live):>7.3f} | "
            f"{percentile(live, 0.95):>7.3f} | {max(live):>7.3f}"
        )
    attributes = results.get("attributes", {})
    if not attributes:
        return
    print()
    print(f"Reload with attributes at {args.attr_size:,} domains (seconds)")
    print(
        f"{'share':>6} | {'rows':>8} | {'domain_attrs: domain.reload':>27} | "
        f"{'htable: htable.reload + domain.reload':>37} | {'via serweb':>10}"
    )
    for share, entry in sorted(attributes.items()):
        old = entry.get("domain_attrs")
        old_text = f"> {args.attr_timeout:.0f} (given up)" if old is None else f"{old:.3f}"
        if "htable" in entry:
            total = entry["htable"] + entry["domain"]
            new_text = f"{entry['htable']:.3f} + {entry['domain']:.3f} = {total:.3f}"
            serweb_text = f"{entry['serweb']:.3f}"
        else:
            new_text = serweb_text = "-"
        print(
            f"{share:>6.0%} | {entry['rows']:>8,} | {old_text:>27} | {new_text:>37} | "
            f"{serweb_text:>10}"
        )


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
    print_table(run_sizes(args, ROLE, "serweb-bench-reload-", measure), args)


if __name__ == "__main__":
    main()
