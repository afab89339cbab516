"""DNS housekeeping benchmark: serweb's housekeeping job against a naive dnspython loop.

    .venv/bin/python bench/housekeeping.py [--domains 100000 --names 2 --baseline 5000
                                            --processes 1]

Starts Knot on a loopback port (tests/dns_harness.py) serving one zone with --domains SIP
domains of --names host names each (the canonical name and aliases) of mixed verdicts (SRV
to a proxy host name, NAPTR to SRV to an address of ours, address fallback, foreign
targets, "." targets, nothing, and a zone answering SERVFAIL; an alias is published as
another kind than its domain, so aliases die while their domain lives), creates a database
of its own (--database-url, default SERWEB_BENCH_DATABASE_URL or
postgres://postgres@127.0.0.1:5432/serweb_bench_dns; its name must contain "bench", as it
is dropped), imports the domains with the bulk CSV import, then:

1. baseline: a straightforward loop over --baseline names with dnspython's stock asyncio
   resolver at the same concurrency: NAPTR, the SRV names, A and AAAA of every target, no
   shared work and no database writes;
2. housekeeping run 1: every name re-verified by the housekeeping job (evidence stored,
   each name's lifecycle and its domain's applied: the negative ones turn suspect), in
   --processes processes, each taking one slice as the Celery workers would;
3. housekeeping run 2: the same again, the steady state.

Prints names/s (and domains/s), DNS questions per name and the peak resident memory
during each run (sampled from /proc) beside the memory before it.

Figures (PostgreSQL 15, Knot 3.2, shared 2-core machine, 1 process):

canonical names only, before every name was checked (100,000 domains, --names 1):

    baseline         5,000 domains   15.2 s    328 domains/s  7.04 questions/domain  RSS  95 -> 101 MB
    housekeeping 1 100,000 domains  137.2 s    729 domains/s  4.80 questions/domain  RSS 101 -> 132 MB
                   (13,000 domains turned suspect, each an audited transition)     2.2x
    housekeeping 2 100,000 domains   60.5 s  1,652 domains/s  4.80 questions/domain  RSS 132 -> 132 MB
                   (steady state)                                                  5.0x

With --processes 2 (20,000 domains): 2,875 domains/s in the steady state, 8.1x.

every host name (100,000 domains of 2 names, 200,000 names, --names 2): see
bench/README.md.
"""

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, recreate_database  # noqa: E402
from tests.dns_harness import KnotServer  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_dns"
PROXY_HOSTNAMES = ["proxy1.serweb.test", "proxy2.serweb.test"]
PROXY_ADDRESSES = ["192.0.2.10", "192.0.2.11", "2001:db8::10"]
FOREIGN_HOSTS = [f"sip{i}.carrier.test" for i in range(20)]

# How each domain is published, by index modulo 100 (cumulative shares).
KINDS = [
    (70, "srv"),  # SRV to one of our host names
    (80, "naptr"),  # NAPTR -> SRV -> a host of the domain with our address
    (85, "address"),  # no SRV: the domain's own A record, ours
    (92, "foreign"),  # SRV to a carrier's host
    (95, "dot"),  # SRV "." (SIP not offered)
    (98, "absent"),  # nothing at all (NXDOMAIN)
    (100, "servfail"),  # in a zone that answers SERVFAIL
]


def kind_of(index: int) -> str:
    return next(kind for limit, kind in KINDS if index % 100 < limit)


# An alias is published as the kind of a neighbouring index: some aliases are negative
# while their domain's canonical name points at us, some domains have no name pointing
# at us (and go suspect with their names).
ALIAS_SHIFT = 7


def host_names(index: int, names: int) -> list[tuple[str, str]]:
    """The domain's host names (the canonical one first) with their kinds, relative to
    the "test." zone of the harness (without ".test")."""
    hosts = []
    for number in range(names):
        kind = kind_of(index if number == 0 else index + number * ALIAS_SHIFT)
        zone = "broken" if kind == "servfail" else "bench"
        label = f"d{index}" if number == 0 else f"a{number}-{index}"
        hosts.append((f"{label}.{zone}", kind))
    return hosts


def domain_names(index: int, names: int) -> list[str]:
    return [f"{host}.test" for host, _kind in host_names(index, names)]


def records(name: str, kind: str, index: int) -> list[str]:
    if kind == "srv":
        target = PROXY_HOSTNAMES[index % 2]
        return [
            f"_sip._udp.{name} SRV 10 10 5060 {target}.",
            f"_sip._tcp.{name} SRV 10 10 5060 {target}.",
        ]
    if kind == "naptr":
        return [
            f'{name} NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.{name}.test.',
            f"_sip._udp.{name} SRV 10 10 5060 sip.{name}.test.",
            f"sip.{name} A 192.0.2.10",
        ]
    if kind == "address":
        return [f"{name} A 192.0.2.11"]
    if kind == "foreign":
        return [f"_sip._udp.{name} SRV 10 10 5060 {FOREIGN_HOSTS[index % 20]}."]
    if kind == "dot":
        return [f"_sip._udp.{name} SRV 0 0 0 ."]
    return []  # absent (NXDOMAIN), or in the zone that answers SERVFAIL


def zone_text(count: int, names: int) -> str:
    """Records relative to the "test." zone of the harness."""
    lines = [
        f"{host.removesuffix('.test')} A 198.51.100.{i + 1}" for i, host in enumerate(FOREIGN_HOSTS)
    ]
    for index in range(count):
        for name, kind in host_names(index, names):
            if not name.startswith("broken"):
                lines.extend(records(name, kind, index))
    return "\n".join(lines) + "\n"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--names", type=int, default=2, help="host names per domain")
    parser.add_argument("--baseline", type=int, default=5000, help="names in the naive loop")
    parser.add_argument("--processes", type=int, default=1, help="housekeeping processes")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a PostgreSQL database whose name contains 'bench'; dropped and recreated",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


# --- memory ---------------------------------------------------------------------------------


def rss_megabytes(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """The highest resident size of this process and its children while running."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = rss_megabytes()
            for child in multiprocessing.active_children():
                try:
                    total += rss_megabytes(child.pid)
                except OSError:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the baseline -------------------------------------------------------------------------------


async def naive_check(resolver, domain: str, counter: list[int]) -> str:
    """RFC 3263 the obvious way: every question asked, every time."""
    import dns.asyncresolver
    import dns.resolver

    async def ask(name: str, rdtype: str):
        counter[0] += 1
        try:
            return await resolver.resolve(name, rdtype, lifetime=5, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException:
            raise LookupError(name) from None

    try:
        naptr = await ask(domain, "NAPTR")
        srv_names = [
            r.replacement.to_text()
            for r in (naptr.rrset or [] if naptr else [])
            if r.service.upper() in (b"SIP+D2U", b"SIP+D2T", b"SIPS+D2T")
        ] or [f"{p}.{domain}" for p in ("_sips._tcp", "_sip._tcp", "_sip._udp")]
        targets = []
        for name in srv_names:
            answer = await ask(name, "SRV")
            if answer is not None and answer.rrset is not None:
                targets += [r.target.to_text(omit_final_dot=True) for r in answer.rrset]
        if not targets:
            targets = [domain]
        ours = []
        for target in targets:
            if target in ("", "."):
                continue
            addresses = []
            for rdtype in ("A", "AAAA"):
                answer = await ask(target, rdtype)
                if answer is not None and answer.rrset is not None:
                    addresses += [r.address for r in answer.rrset]
            ours.append(bool(addresses) and all(a in PROXY_ADDRESSES for a in addresses))
        return "ours" if ours and all(ours) else "not ours"
    except LookupError:
        return "unknown"


def run_baseline(nameserver: tuple[str, int], names: list[str], concurrency: int):
    import dns.asyncresolver

    async def main() -> tuple[float, int, dict[str, int]]:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
        resolver.use_edns(0, 0, 1232)
        limit = asyncio.Semaphore(concurrency)
        counter = [0]

        async def one(name: str) -> str:
            async with limit:
                return await naive_check(resolver, name, counter)

        started = time.perf_counter()
        verdicts = await asyncio.gather(*(one(n) for n in names))
        elapsed = time.perf_counter() - started
        tally: dict[str, int] = {}
        for verdict in verdicts:
            tally[verdict] = tally.get(verdict, 0) + 1
        return elapsed, counter[0], tally

    return asyncio.run(main())


# --- housekeeping ---------------------------------------------------------------------------


def one_slice(slot: int, slots: int, results) -> None:
    from django.db import connection

    from domains.dns.housekeeping import housekeeping_run

    connection.close()  # a connection of its own, not the parent's
    run = housekeeping_run(slot=slot, slots=slots)
    moved = {
        **run.summary.get("transitions", {}),
        **{f"name {k}": v for k, v in run.summary.get("name_transitions", {}).items()},
    }
    results.put((run.checked, run.summary.get("domains", 0), run.queries, run.status, moved))


def cpu_seconds() -> float:
    """CPU time of this process and of its children that ended: on a shared machine the
    figure other processes do not change (PostgreSQL's and Knot's work is not in it)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run_housekeeping(processes: int) -> tuple[float, float, int, int, int, list[str], dict]:
    from django.db import connection

    connection.close()
    results: multiprocessing.Queue = multiprocessing.Queue()
    started, cpu_before = time.perf_counter(), cpu_seconds()
    if processes == 1:
        one_slice(0, 1, results)
    else:
        workers = [
            multiprocessing.Process(target=one_slice, args=(slot, processes, results))
            for slot in range(processes)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    checked = domains = queries = 0
    statuses: list[str] = []
    transitions: dict[str, int] = {}
    for _ in range(processes):
        slice_checked, slice_domains, slice_queries, status, moved = results.get()
        checked += slice_checked
        domains += slice_domains
        queries += slice_queries
        statuses.append(status)
        for key, value in moved.items():
            transitions[key] = transitions.get(key, 0) + value
    return elapsed, cpu, checked, domains, queries, statuses, transitions


def main() -> None:
    args = parse_arguments()
    workdir = Path(tempfile.mkdtemp(prefix="serweb-bench-dns-"))
    knot = KnotServer(workdir, extra_zone_text=zone_text(args.domains, args.names))
    started = time.perf_counter()
    knot.start(timeout=120)
    total = args.domains * args.names
    print(
        f"knot: {args.domains:,} domains of {args.names} names ({total:,} names) served on "
        f"{knot.nameserver} ({time.perf_counter() - started:.1f} s to load)"
    )
    os.environ.update(
        SERWEB_DNS_NAMESERVERS=knot.nameserver,
        SERWEB_DNS_AUTHORITY_PORT=str(knot.port),
        SERWEB_PROXY_HOSTNAMES=",".join(PROXY_HOSTNAMES),
        SERWEB_PROXY_ADDRESSES=",".join(PROXY_ADDRESSES),
        SERWEB_DNS_CONCURRENCY=str(args.concurrency),
        # The first run turns every negative name suspect: let it.
        SERWEB_DNS_BREAKER_PERCENT="100",
    )
    try:
        recreate_database(args.database_url)
        configure_django(args.database_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from domains.bulk import import_domains_csv

        csv_path = workdir / "domains.csv"
        with csv_path.open("w") as out:
            out.write("name,aliases\n")
            for index in range(args.domains):
                canonical, *aliases = domain_names(index, args.names)
                out.write(f"{canonical},{' '.join(aliases)}\n")
        started = time.perf_counter()
        import_domains_csv(actor=None, path=csv_path)
        print(
            f"database: {args.domains:,} domains, {total:,} names imported "
            f"({time.perf_counter() - started:.1f} s)"
        )

        nameserver = ("127.0.0.1", knot.port)
        sample = [
            name for index in range(args.domains) for name in domain_names(index, args.names)
        ][: args.baseline]
        before = rss_megabytes()
        with PeakMemory() as memory:
            elapsed, questions, tally = run_baseline(nameserver, sample, args.concurrency)
        base_rate = len(sample) / elapsed
        print(
            f"baseline     {len(sample):>7,} names {elapsed:7.1f} s {base_rate:8,.0f} names/s "
            f"{questions / len(sample):5.2f} questions/name   "
            f"RSS {before:.0f} MB -> peak {memory.peak:.0f} MB   {tally}"
        )
        for label in ("run 1", "run 2"):
            before = rss_megabytes()
            with PeakMemory() as memory:
                elapsed, cpu, checked, domains, queries, statuses, moved = run_housekeeping(
                    args.processes
                )
            rate = checked / elapsed
            print(
                f"housekeeping {label} {checked:>7,} names {elapsed:7.1f} s {rate:8,.0f} names/s "
                f"({domains / elapsed:,.0f} domains/s) "
                f"{queries / max(checked, 1):5.2f} questions/name   "
                f"RSS {before:.0f} MB -> peak {memory.peak:.0f} MB   "
                f"{args.processes} process(es), {'/'.join(statuses)}, {moved or 'no transitions'}"
            )
            print(
                f"             {rate / base_rate:.1f}x the baseline's rate; serweb's own CPU "
                f"{cpu:.1f} s, {1e6 * cpu / max(checked, 1):,.0f} µs/name"
            )
    finally:
        knot.stop()
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate_database(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()
