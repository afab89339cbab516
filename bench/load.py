"""Load on loopback: the portal's lists, the API and the proxies' lookup under gunicorn.

    .venv/bin/python bench/load.py                     # 100k domains, 1M subscribers
    .venv/bin/python bench/load.py --domains 2000 --subscribers 20000 --runs 1 --seconds 2

Creates (and afterwards drops, unless --keep) a database of its own, --database-url
(default SERWEB_BENCH_LOAD_DATABASE_URL or postgres://postgres@127.0.0.1:5432/serweb_bench_load;
its name must contain "bench"), filled in SQL as bench/portal.py and bench/provision.py fill
theirs. For each configuration of --configs (the web worker class with its threads and
DATABASE_CONN_MAX_AGE), in turn and --runs times over (every other run in the reverse
order, so a machine getting busier favours none), it starts gunicorn with
deploy/gunicorn.conf.py and two workers, production settings from the environment
(HTTPS only, as behind nginx: X-Forwarded-Proto and X-Forwarded-For as nginx sends them;
the Redis cache of CACHE_URL, or SERWEB_BENCH_CACHE_URL; the access log to a file), warms
it up, then drives each endpoint for --seconds from --clients threads with a keep-alive
connection each (a sync worker closes it after every answer: the client reconnects):

- the domain list (an operator's session cookie): the first page, a filtered page, a search;
- the subscriber list, first page;
- the API with a token: the domain list and a domain's detail (a random one);
- the proxies' lookup: random known names (of all the names), and unknown names whose
  negative answer is in the shared cache (auto-learning on, as a DNS check leaves them);
- all of these at once ("mix"), each client picking one at random per request.

It prints, per endpoint and configuration, the medians over the runs of the throughput
(answers per second), the p50 and p99 latency (nearest rank, as the client sees it) and
the error rate (a wrong status or a failed connection), each run's throughput, and the
ratios to the first configuration.
"""

import argparse
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import configure_django, free_port, recreate_database, wait_for_port  # noqa: E402
from bench.http_load import Endpoint, drive, figures, median_figures  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/serweb_bench_load"
DEFAULT_CONFIGS = "sync/0,sync/60,gthread4/0,gthread4/60"
NEGATIVE_REASON = "DNS: foreign (the SRV records point elsewhere)"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=5.0, help="per endpoint and run")
    parser.add_argument("--runs", type=int, default=3, help="of every configuration; medians")
    parser.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help="comma-separated CLASS[THREADS]/CONN_MAX_AGE, e.g. sync/0,gthread4/60",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SERWEB_BENCH_LOAD_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a PostgreSQL database whose name contains 'bench'; dropped and recreated",
    )
    parser.add_argument(
        "--cache-url",
        default=os.environ.get("SERWEB_BENCH_CACHE_URL") or "redis://127.0.0.1:6379/1",
        help="the Redis cache the server shares (its keys get a prefix of this run's own)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the kept database as it is")
    args = parser.parse_args()
    if args.domains < 100 or args.subscribers < args.domains or args.runs < 1:
        parser.error("--domains at least 100, --subscribers at least --domains, --runs >= 1")
    try:
        args.configs = [Config.parse(text) for text in args.configs.split(",")]
    except ValueError as exc:
        parser.error(str(exc))
    return args


@dataclass(frozen=True)
class Config:
    worker_class: str
    threads: int
    conn_max_age: int

    @classmethod
    def parse(cls, text: str) -> "Config":
        worker, _, age = text.strip().partition("/")
        name = worker.rstrip("0123456789")
        threads = int(worker[len(name) :] or 1)
        if name not in ("sync", "gthread") or not age.isdigit():
            raise ValueError(f"{text!r}: expected sync/AGE or gthreadN/AGE")
        return cls(name, threads, int(age))

    @property
    def label(self) -> str:
        worker = "sync" if self.worker_class == "sync" else f"gthread {self.threads}"
        return f"{worker}, conn {self.conn_max_age}"


# --- the data -----------------------------------------------------------------------------


def fill(domains: int, subscribers: int) -> float:
    from django.core.management import call_command
    from django.db import connection

    from bench import portal, provision

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    portal.fill(domains)
    provision.server_side_subscribers(subscribers, domains)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


@dataclass
class Credentials:
    session: str
    token: str
    names: list[str]
    dids: list[str]
    unknown: list[str] = field(default_factory=list)


def credentials(domains: int) -> Credentials:
    """An operator's session and API token; the names and dids the clients pick from."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from api.services import token_create
    from domains.models import SERVED_STATES, DomainName

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True}
    )
    client = Client()
    client.force_login(user)
    _token, key = token_create(actor=None, user=user, name=f"load-{secrets.token_hex(4)}")
    picked = random.Random(7).sample(range(domains), min(domains, 10_000))
    names = list(
        DomainName.objects.filter(
            domain_id__in=[i + 1 for i in picked],
            domain__enabled=True,
            domain__state__in=SERVED_STATES,
        ).values_list("name", "domain__did")
    )
    return Credentials(
        session=client.cookies["sessionid"].value,
        token=key,
        names=[name for name, _did in names],
        dids=sorted({did for _name, did in names}),
        unknown=[f"n{i}.unknown.bench.test" for i in range(1_000)],
    )


def remember_negative_answers(names: list[str]) -> None:
    """What a DNS check that found each name pointing elsewhere leaves in the shared cache
    (domains/dns/lookup.py), so the lookup answers them from there."""
    from domains.dns.lookup import not_ours_remember

    for name in names:
        not_ours_remember(name, NEGATIVE_REASON, ttl=3600)


# --- the endpoints ------------------------------------------------------------------------


def endpoints(domains: int, creds: Credentials) -> list[Endpoint]:
    # What nginx (deploy/nginx/serweb.conf) adds in front of gunicorn.
    behind_nginx = {
        "Host": "127.0.0.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "127.0.0.1",
    }
    session = {**behind_nginx, "Cookie": f"sessionid={creds.session}"}
    token = {**behind_nginx, "Authorization": f"Bearer {creds.token}"}

    def fixed(url: str):
        return lambda _rng: url

    def page(label: str, url: str) -> Endpoint:
        return Endpoint(label, fixed(url), session)

    return [
        page("domains, first page", "/domains/"),
        page("domains, filtered", "/domains/?state=suspect&verdict=foreign&enabled=true"),
        page("domains, search", f"/domains/?search=sip.d{domains // 3}7."),
        page("subscribers, first page", "/subscribers/"),
        Endpoint("API domain list", fixed("/api/v1/domains/"), token),
        Endpoint(
            "API domain detail",
            lambda rng: f"/api/v1/domains/{quote(rng.choice(creds.dids))}/",
            token,
        ),
        Endpoint(
            "lookup, known",
            lambda rng: f"/proxy/lookup?host={rng.choice(creds.names)}",
            behind_nginx,
        ),
        Endpoint(
            "lookup, negative-cached",
            lambda rng: f"/proxy/lookup?host={rng.choice(creds.unknown)}",
            behind_nginx,
            expect=404,
        ),
    ]


# --- the server ---------------------------------------------------------------------------


class Server:
    """gunicorn with deploy/gunicorn.conf.py, two workers, production settings."""

    def __init__(self, config: Config, env: dict[str, str], directory: Path):
        self.port = free_port()
        self.log = directory / f"gunicorn-{config.worker_class}{config.threads}.log"
        self.env = {
            **env,
            "SERWEB_BIND": f"127.0.0.1:{self.port}",
            "SERWEB_WEB_WORKERS": "2",
            "SERWEB_WEB_WORKER_CLASS": config.worker_class,
            "SERWEB_WEB_THREADS": str(config.threads),
            "DATABASE_CONN_MAX_AGE": str(config.conn_max_age),
        }
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
                + ["serweb.wsgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_env(args: argparse.Namespace, directory: Path, secret_key: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SERWEB_", "DJANGO_"))}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "serweb.settings",
        "DATABASE_URL": args.database_url,
        "SECRET_KEY": secret_key,
        "SERWEB_ENV_FILE": "/nonexistent",
        "SERWEB_VAR_DIR": str(directory / "var"),
        "CACHE_URL": os.environ["CACHE_URL"],
        "CACHE_KEY_PREFIX": os.environ["CACHE_KEY_PREFIX"],
        "CELERY_BROKER_URL": "",
        # Behind nginx, as deploy/ runs it: its X-Forwarded-* are believed.
        "SERWEB_HTTP_PROXIES": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"),
        "SERWEB_DNS_AUTO_LEARN": "1",
        # Nothing leaves the machine: the unknown names are answered from the cache.
        "SERWEB_DNS_NAMESERVERS": "127.0.0.1:9",
        "SERWEB_API_RATE": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }


# --- the report ---------------------------------------------------------------------------


def report(results: dict, configs: list[Config], phases: list[str], labels: list[str]) -> None:
    """Per phase, endpoint and configuration: the medians over the runs, and the ratios of
    throughput and p50 to the first configuration's."""
    base = configs[0]
    for phase in phases:
        print(f"\n== {phase}")
        print(
            f"{'endpoint':<26} {'configuration':<20} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'errors':>6} {'req/s ratio':>11} {'p50 ratio':>9}  req/s of each run"
        )
        for label in labels:
            if (phase, label, base) not in results:
                continue
            medians = {c: median_figures(results[(phase, label, c)]) for c in configs}
            for config in configs:
                m, b = medians[config], medians[base]
                each = " ".join(f"{f.rate:.0f}" for f in results[(phase, label, config)])
                print(
                    f"{label:<26} {config.label:<20} {m.rate:>7.1f} {m.p50:>7.1f} {m.p99:>7.1f} "
                    f"{m.error_rate:>6.1%} {m.rate / b.rate if b.rate else 0:>10.2f}x "
                    f"{m.p50 / b.p50 if b.p50 else 0:>8.2f}x  {each}"
                    + (f"  ({m.example})" if m.example else "")
                )


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), load average {load}"


def main() -> None:
    args = parse_arguments()
    os.environ["SECRET_KEY"] = secret_key = secrets.token_urlsafe(40)
    os.environ["CACHE_URL"] = args.cache_url
    os.environ["CACHE_KEY_PREFIX"] = f"serweb-bench-load-{secrets.token_hex(4)}"
    if not args.reuse:
        recreate_database(args.database_url)
    configure_django(args.database_url)
    import gunicorn
    from django.db import connection

    from bench.portal_subscribers import filled_with

    filled = None
    if not (args.reuse and filled_with(args.domains, args.subscribers)):
        filled = fill(args.domains, args.subscribers)
    creds = credentials(args.domains)
    remember_negative_answers(creds.unknown)
    chosen = endpoints(args.domains, creds)
    alone = {e.label: e for e in chosen}
    single, mix, one = (
        f"one endpoint at a time, {args.clients} clients",
        f"all endpoints at once, {args.clients} clients",
        "one client (the latency of a server with nothing else to do)",
    )
    phases = [(single, [e], args.clients) for e in chosen] + [(mix, chosen, args.clients)]
    phases += [
        (one, [alone[label]], 1)
        for label in ("API domain detail", "lookup, known", "lookup, negative-cached")
    ]

    print(
        f"serweb under load: gunicorn {gunicorn.__version__} (2 workers, deploy/gunicorn.conf.py),"
        f" PostgreSQL {connection.pg_version // 10000}, Python {platform.python_version()}"
    )
    print(f"machine: {machine()}")
    print(
        f"{args.domains:,} domains ({2 * args.domains:,} names), {args.subscribers:,} subscribers"
        + (f", filled in {filled:.1f} s" if filled is not None else ", reused")
        + f"; {args.clients} clients, {args.seconds:g} s per endpoint, {args.runs} run(s)"
    )
    connection.close()

    results: dict = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="serweb-load-") as scratch:
        directory = Path(scratch)
        env = server_env(args, directory, secret_key)
        for run in range(args.runs):
            order = args.configs if run % 2 == 0 else list(reversed(args.configs))
            for config in order:
                remember_negative_answers(creds.unknown)
                with Server(config, env, directory) as server:
                    # Both workers started, templates compiled, connections opened.
                    for endpoint in chosen:
                        drive(server.port, [endpoint], clients=4, seconds=0.5)
                    for kind, group, clients in phases:
                        samples, took = drive(
                            server.port, group, clients=clients, seconds=args.seconds
                        )
                        for endpoint in group:
                            results[(kind, endpoint.label, config)].append(
                                figures(samples[endpoint.label], took)
                            )
                print(f"run {run + 1}, {config.label}: done ({machine()})", flush=True)
    print(f"\nmachine at the end: {machine()}")
    report(results, args.configs, [single, mix, one], [e.label for e in chosen])
    if not args.keep:
        recreate_database(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()
