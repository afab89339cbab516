"""Proxy modes benchmark: Kamailio's domain module, reloaded in full, against the htable
index, updated change by change, side by side on the same data.

    .venv/bin/python bench/index.py [--sizes 1000,10000,100000,1000000] [--attributes 0.1]

For each size it creates a database of its own (--database-url, default
SERWEB_BENCH_INDEX_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench_index;
the name must contain "bench", as it is dropped) and imports that many domains with two
names each, a share of them (--attributes) with one attribute, through the bulk import.
Then, in each mode, with a Kamailio of its own running the reference configuration:

- domain: names in the domain module, attributes in htable (-A WITH_HTABLE_ATTRS,
  SERWEB_PROXY_ATTRIBUTES=htable: the stock domain_attrs load is quadratic and does not
  finish at these sizes, bench/README.md); every change is htable.reload + domain.reload;
- htable: names and attributes in htable (-A WITH_HTABLE_DOMAINS,
  SERWEB_PROXY_DOMAINS=htable); every change is the keys it touched, htable.sets and
  htable.delete, with a full htable.reload of both tables as the fallback;

it prints the proxy's start (its tables loaded at start) and shared memory, the full
reload through serweb (claim, shared memory check, the RPCs, OPTIONS probes; the
fallback in the htable mode) and the bare RPCs, commit to live for --changes domains
created one by one (domain_create, the in-process reload or update after the commit,
until an OPTIONS probe of the new name answers 200: median, p95, maximum; in the domain
mode at most --stock-seconds of them), and a burst of --burst domains created in one
transaction until the last is live. The htable mode also times the first build of the
change log. No broker: each change is sent in-process after its commit. A table closes
the run. Smoke run:
    .venv/bin/python bench/index.py --sizes 500,2000 --changes 20 --burst 100
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, run_sizes  # noqa: E402
from bench.reload import (  # noqa: E402
    MIB,
    kamailio_memory,
    median_seconds,
    stop_kamailio,
    write_domains,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_index"
ROLE = "serweb_bench_index"
MODES = ("domain", "htable")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="domains, comma-separated")
    parser.add_argument(
        "--attributes", type=float, default=0.1, help="share of domains with an attribute row"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each full reload; medians")
    parser.add_argument(
        "--changes", type=int, default=100, help="changes timed one by one, commit to live"
    )
    parser.add_argument(
        "--stock-seconds",
        type=float,
        default=300.0,
        help="the domain mode's one-by-one changes stop after this long",
    )
    parser.add_argument("--burst", type=int, default=1000, help="changes in one transaction")
    parser.add_argument("--modes", default=",".join(MODES), help="domain, htable or both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_INDEX_DATABASE_URL") or DEFAULT_DATABASE_URL,
    )
    args = parser.parse_args()
    try:
        args.sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated numbers of domains")
    if min(args.sizes) < 1 or args.repeat < 1 or not 0 <= args.attributes <= 1:
        parser.error("sizes and --repeat must be at least 1, --attributes within 0..1")
    if args.changes < 1 or args.burst < 1:
        parser.error("--changes and --burst must be at least 1")
    args.modes = [mode for mode in args.modes.split(",") if mode]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes: some of {', '.join(MODES)}")
    return args


def htable_size(items: int) -> int:
    """log2 of the slots for about one item per slot (the configuration's size)."""
    return max(4, (max(items, 2) - 1).bit_length())


def mode_setup(mode: str, names: int, settings) -> tuple[tuple[str, ...], int, int]:
    """The defines, -m and -M (MB) of a Kamailio for this mode and this many names."""
    from proxies import memory

    settings.SERWEB_PROXY_ATTRIBUTES = "htable"
    settings.SERWEB_PROXY_DOMAINS = mode
    copy = memory.tables_size_estimate()
    if mode == "htable":
        size = htable_size(names)
        spec = f'"domnames=>size={size};autoexpire=0;dbtable=domain_names_htable;"'
        # The slots (about 32 bytes each) beside the items; a full htable.reload holds
        # the old and the new items for a moment.
        copy += (1 << size) * 32
        return ("WITH_HTABLE_DOMAINS", f"DOMAINS_HTABLE={spec}"), int(32 + 2.6 * copy / MIB), 16
    # deploy/kamailio/README.md: two copies of the domain tables (the estimate counts the
    # attributes at the domain module's cost, more than htable's), private memory for the
    # rows one process reads.
    shm, pkg = kamailio_memory(names, copy)
    return ("WITH_HTABLE_ATTRS",), shm, pkg


class FirstAnswer:
    """Asks the proxy about one name over and over, in a thread of its own, and notes
    when it first answers that it serves it."""

    def __init__(self, kamailio, name: str):
        import threading

        self.kamailio, self.name = kamailio, name
        self.at: float | None = None
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        try:
            while not self._stop.is_set():
                if self.kamailio.serves(self.name):
                    self.at = time.perf_counter()
                    return
                time.sleep(0.0002)
        except Exception as exc:  # raised by wait(), in the thread that asked
            self.error = exc

    def wait(self, timeout: float) -> float:
        self._thread.join(timeout)
        self._stop.set()
        if self.error is not None:
            raise self.error
        if self.at is None:
            raise AssertionError(f"{self.name}: not live within {timeout} s")
        return self.at


def commit_to_live(kamailio, label: str, count: int, budget: float) -> dict[str, list[float]]:
    """Up to ``count`` new domains one after the other, within ``budget`` seconds, each a
    domain_create whose reload or update runs in-process after its commit. For each: from
    the commit to the first OPTIONS answered 200 (asked meanwhile from another thread),
    and the whole call, as a request would take it."""
    from django.db import transaction

    from domains.services import domain_create

    live, calls = [], []
    began = time.perf_counter()
    for index in range(count):
        name = f"{label}{index}.bench.test"
        asker = FirstAnswer(kamailio, name)
        committed: list[float] = []
        started = time.perf_counter()
        with transaction.atomic():
            # Registered first, so it runs first after the commit, before the update.
            transaction.on_commit(lambda at=committed: at.append(time.perf_counter()))
            domain_create(actor=None, name=name)
        calls.append(time.perf_counter() - started)
        live.append(asker.wait(timeout=900) - committed[0])
        if time.perf_counter() - began > budget:
            break
    return {"live": live, "calls": calls}


def burst_to_live(kamailio, label: str, count: int) -> dict:
    """``count`` domains created in one transaction: how long the transaction took, the
    seconds from its commit until the last is live, and the full reloads and incremental
    updates it cost."""
    from django.db import transaction

    from domains.services import domain_create
    from proxies.models import Proxy

    counts = Proxy.objects.filter(enabled=True).values_list("reload_count", "update_count")
    before = counts.get()
    names = [f"{label}{index}.bench.test" for index in range(count)]
    committed: list[float] = []
    started = time.perf_counter()
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.perf_counter()))
        for name in names:
            domain_create(actor=None, name=name)
    asker = FirstAnswer(kamailio, names[-1])
    live = asker.wait(timeout=900)
    assert all(kamailio.serves(name) for name in names[:: max(1, count // 20)])
    after = counts.get()
    return {
        "transaction": committed[0] - started,
        "live": max(live - committed[0], 0.0),
        "reloads": after[0] - before[0],
        "updates": after[1] - before[1],
    }


def measure_mode(mode: str, size: int, args, db_url: str, directory: Path) -> dict:
    from django.conf import settings

    from proxies import index_log, memory, reload, transport
    from proxies.config import htable_name, names_htable_name
    from proxies.models import Proxy
    from proxies.services import proxy_create
    from tests.kamailio_harness import Kamailio

    row: dict = {}
    # A full reload of a million domains takes longer than the default 10 s.
    settings.SERWEB_RELOAD_TIMEOUT = 1800
    settings.SERWEB_RELOAD_CLAIM_TTL = 1900
    names, _chars = memory.names_count()
    defines, shm_mb, pkg_mb = mode_setup(mode, names, settings)
    if mode == "htable":
        row["log_build"], _ = median_seconds(index_log.log_rebuild, 1)
    run_dir = directory / f"kamailio-{mode}-{size}"
    run_dir.mkdir()
    kamailio = Kamailio(
        run_dir, db_url, shm_mb=shm_mb, pkg_mb=pkg_mb, reload_log=False, defines=defines
    )
    row["start"], _ = median_seconds(lambda: kamailio.start(timeout=1800), 1)
    started = transport.shm_stats("fifo", kamailio.fifo, timeout=5)
    row["memory"] = f"-m {shm_mb} -M {pkg_mb}"
    row["shm_start"] = started.total - started.free
    try:
        Proxy.objects.update(enabled=False)
        proxy = proxy_create(
            actor=None,
            name=f"kam-{mode}-{size}",
            transport="fifo",
            address=kamailio.fifo,
            sip_address=kamailio.sip_address,
        )

        def full_reload() -> None:
            outcome = reload.proxy_reload(proxy.pk, force=True)
            assert outcome.ok, outcome

        full_reload()
        row["full"], _ = median_seconds(full_reload, args.repeat)
        after = transport.shm_stats("fifo", kamailio.fifo, timeout=5)
        row["shm_after"], row["shm_max"] = after.total - after.free, after.max_used
        tables = [htable_name(), names_htable_name()] if mode == "htable" else [htable_name()]
        bare = 0.0
        for table in tables:
            seconds, _ = median_seconds(
                lambda t=table: transport.htable_reload("fifo", kamailio.fifo, t, timeout=1800),
                args.repeat,
            )
            bare += seconds
        if mode == "domain":
            seconds, _ = median_seconds(
                lambda: transport.domain_reload("fifo", kamailio.fifo, timeout=1800), args.repeat
            )
            bare += seconds
        row["bare"] = bare
        # Every item the tables hold: the loads above agree with the relations.
        stats = {t["name"]: t["all"] for t in kamailio.rpc("htable.stats")}
        row["items"] = sum(stats.get(table, 0) for table in tables)
        budget = args.stock_seconds if mode == "domain" else float("inf")
        row.update(commit_to_live(kamailio, f"{mode}-change", args.changes, budget))
        row["burst"] = burst_to_live(kamailio, f"{mode}-burst", args.burst)
        row["burst_size"] = args.burst
    finally:
        stop_kamailio(kamailio)
        Proxy.objects.update(enabled=False)
    return row


def report_mode(size: int, mode: str, row: dict, imported: float) -> None:
    live, burst = row["live"], row["burst"]
    pad = f"{'':>10}"
    print(f"{size:>9,} domains, imported in {imported:.1f} s; mode {mode}:")
    if "log_build" in row:
        print(f"{pad}change log built in {row['log_build']:.1f} s")
    print(
        f"{pad}kamailio {row['memory']}: started in {row['start']:.1f} s, shm in use "
        f"{row['shm_start'] / MIB:.1f} MiB; after a full reload {row['shm_after'] / MIB:.1f} "
        f"MiB (max used {row['shm_max'] / MIB:.1f} MiB); {row['items']:,} htable items"
    )
    print(f"{pad}full reload via serweb {row['full']:.3f} s; bare RPCs {row['bare']:.3f} s")
    print(
        f"{pad}{len(live)} changes, commit to live: median {statistics.median(live) * 1000:.1f} "
        f"ms, p95 {percentile(live, 0.95) * 1000:.1f} ms, max {max(live) * 1000:.1f} ms; "
        f"the whole call: median {statistics.median(row['calls']) * 1000:.1f} ms"
    )
    print(
        f"{pad}burst of {args_burst(row)} in one transaction ({burst['transaction']:.1f} s): "
        f"the last live {burst['live']:.3f} s after the commit ({burst['reloads']} full "
        f"reload(s), {burst['updates']} update(s))"
    )


def args_burst(row: dict) -> int:
    return row["burst_size"]


def print_table(results: dict, args: argparse.Namespace) -> None:
    print()
    print("Commit to live (ms: from the commit to the first OPTIONS answered 200), the full")
    print("reload through serweb, shared memory at its peak, a burst in one transaction from")
    print("its commit until the last is live (s)")
    print(
        f"{'domains':>9} | {'mode':>6} | {'start s':>7} | {'shm MiB':>7} | "
        f"{'full reload s':>13} | {'changes':>7} | {'median ms':>9} | {'p95 ms':>8} | "
        f"{'max ms':>8} | {f'burst {args.burst} s':>11}"
    )
    for (size, mode), row in results.items():
        live = row["live"]
        print(
            f"{size:>9,} | {mode:>6} | {row['start']:>7.1f} | {row['shm_max'] / MIB:>7.0f} | "
            f"{row['full']:>13.3f} | {len(live):>7} | {statistics.median(live) * 1000:>9.1f} | "
            f"{percentile(live, 0.95) * 1000:>8.1f} | {max(live) * 1000:>8.1f} | "
            f"{row['burst']['live']:>11.3f}"
        )


def measure_size(size: int, args: argparse.Namespace, directory: Path, results: dict) -> None:
    from django.db import connection

    from domains.bulk import import_domains_csv
    from proxies.access import proxy_role_grant

    csv_path = directory / f"domains-{size}.csv"
    write_domains(csv_path, size, args.attributes)
    started = time.perf_counter()
    import_domains_csv(actor=None, path=csv_path)
    imported = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    proxy_role_grant(role=ROLE)
    db = connection.settings_dict
    db_url = (
        f"postgres://{ROLE}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )
    for mode in args.modes:
        row = measure_mode(mode, size, args, db_url, directory)
        results[(size, mode)] = row
        report_mode(size, mode, row, imported)


def main() -> None:
    args = parse_arguments()
    print_table(run_sizes(args, ROLE, "serweb-bench-index-", measure_size), args)


if __name__ == "__main__":
    main()
