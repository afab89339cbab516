"""The proxy's negative cache of the on-demand lookup, on and off, side by side.

    .venv/bin/python bench/lookup_negative.py [--requests 5000] [--names 20] [--repeat 4]

It creates a database of its own (--database-url, default
SERWEB_BENCH_NEGATIVE_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench_negative;
the name must contain "bench", as it is dropped), starts serweb under gunicorn (one
worker, four threads, auto-learning off: every unknown host is "not ours" from one
indexed query) and two Kamailios with the reference configuration and WITH_LOOKUP: one
with the negative cache, one with LOOKUP_NEGATIVE_MAX=0 (none). SIPp sends --requests
OPTIONS to alice@<name> through each (four at a time, as fast as the answers come), in
two workloads: --names names asked over and over (a flood of the same few names), and a
new name every request (random names, the cache's worst case: every name is asked and
stored). It prints requests per second (median of --repeat runs), the lookups serweb
served, and the shared memory the remembered names took.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import admin_execute, configure_django, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_negative"
ROLE = "serweb_bench_negative"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--names", type=int, default=20, help="names of the repeated workload")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_NEGATIVE_DATABASE_URL", DEFAULT_DATABASE_URL),
    )
    return parser.parse_args()


def scenario(directory: Path) -> Path:
    """tests/sipp/options_refused.xml with the host from SIPp's injection file."""
    text = (ROOT / "tests" / "sipp" / "options_refused.xml").read_text()
    path = directory / "options_refused_inf.xml"
    path.write_text(text.replace("[domain]", "[field0]").replace("[user]", "alice"))
    return path


def flood(sipp: str, kamailio, xml: Path, names: Path, requests: int, prefix: Path) -> float:
    """Seconds SIPp took for ``requests`` OPTIONS, hosts taken in turn from ``names``."""
    command = [sipp, "-sf", str(xml), "-inf", str(names), "-i", "127.0.0.1"]
    command += ["-m", str(requests), "-r", "100000", "-l", "4", "-nostdin"]
    command += ["-timeout", "300s", "-timeout_error", "-trace_err"]
    command += ["-error_file", f"{prefix}.err", kamailio.sip_address]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=prefix.parent, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sipp exit {done.returncode}: {done.stdout[-800:]}{done.stderr}")
    return seconds


def lookups(serweb) -> int:
    return serweb.access_log.read_text().count("/proxy/lookup?host=")


def main() -> None:
    args = parse_arguments()
    recreate_database(args.database_url)
    configure_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from proxies.access import proxy_role_grant

    call_command("migrate", verbosity=0)
    proxy_role_grant(role=ROLE)
    db = connection.settings_dict
    where = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    try:
        with tempfile.TemporaryDirectory(prefix="serweb-bench-negative-") as tmp:
            measure(args, Path(tmp), f"postgres://{ROLE}@{where}")
    finally:
        connection.close()
        recreate_database(args.database_url, drop_only=True)
        admin_execute(args.database_url, f"DROP ROLE IF EXISTS {ROLE}")


def measure(args: argparse.Namespace, directory: Path, kamailio_db_url: str) -> None:
    from proxies import transport
    from tests.kamailio_harness import Kamailio, require_binary
    from tests.test_e2e_lookup import Serweb

    sipp = require_binary("sipp")
    serweb = Serweb(
        directory,
        database_url=args.database_url,
        environment={"SERWEB_DNS_AUTO_LEARN": "0", "LOG_LEVEL": "ERROR"},
    )
    serweb.start()
    xml = scenario(directory)
    kamailios = {}
    try:
        for label, extra in (("cache", ()), ("no cache", ("LOOKUP_NEGATIVE_MAX=0",))):
            run_dir = directory / label.replace(" ", "-")
            run_dir.mkdir()
            defines = ("WITH_LOOKUP", f'SERWEB_LOOKUP_URL="{serweb.lookup_url}"', *extra)
            kamailios[label] = Kamailio(run_dir, kamailio_db_url, reload_log=False, defines=defines)
            kamailios[label].start()
        print(
            f"negative cache of the lookup: {args.requests:,} OPTIONS per run, 4 at a time, "
            f"median of {args.repeat}; serweb: gunicorn, 1 worker, 4 threads"
        )
        print(f"{'workload':<28} {'':<9} {'requests/s':>11} {'lookups at serweb':>18}")
        for run in range(args.repeat):
            for workload in ("repeated", "random"):
                names = directory / f"names-{workload}-{run}.csv"
                count = args.names if workload == "repeated" else args.requests
                hosts = [f"n{i}-{run}.{workload}.bench.test" for i in range(count)]
                names.write_text("SEQUENTIAL\n" + "".join(f"{h}\n" for h in hosts))
                # Each first in turn: a machine getting busier favours neither.
                order = list(kamailios.items())[:: -1 if run % 2 else 1]
                for label, kamailio in order:
                    key = (workload, label)
                    before_shm = transport.shm_stats("fifo", kamailio.fifo, timeout=5)
                    before = lookups(serweb)
                    seconds = flood(
                        sipp, kamailio, xml, names, args.requests, directory / f"{workload}{run}"
                    )
                    time.sleep(0.3)  # the access log's last lines
                    after_shm = transport.shm_stats("fifo", kamailio.fifo, timeout=5)
                    RESULTS.setdefault(key, []).append(
                        (
                            args.requests / seconds,
                            lookups(serweb) - before,
                            (after_shm.total - after_shm.free)
                            - (before_shm.total - before_shm.free),
                        )
                    )
        for (workload, label), runs in RESULTS.items():
            rate = statistics.median(r[0] for r in runs)
            asked = statistics.median(r[1] for r in runs)
            title = f"{args.names} names" if workload == "repeated" else "a new name each"
            print(f"{title:<28} {label:<9} {rate:>11,.0f} {asked:>18,.0f}")
        random_cache = RESULTS[("random", "cache")]
        per_name = statistics.median(r[2] / args.requests for r in random_cache)
        print(f"shared memory per remembered name: ~{per_name:.0f} bytes (random names, cache on)")
    finally:
        for kamailio in kamailios.values():
            kamailio.stop()
        serweb.stop()


RESULTS: dict[tuple[str, str], list[tuple[float, int, int]]] = {}

if __name__ == "__main__":
    main()
