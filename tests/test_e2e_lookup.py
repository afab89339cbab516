"""End to end: a domain published in DNS a moment ago, never provisioned, is served.

Knot serves the test zone; serweb runs as a real HTTP server (gunicorn, production
settings from environment variables) on the test database with auto-learning on and the
proxy's identity set; Kamailio runs the reference configuration with WITH_LOOKUP and asks
that server about every Request-URI host its domain table does not know. Nobody creates
the domain: the first REGISTER to it makes serweb learn it from DNS, reload this proxy,
and answer its did, so the REGISTER is challenged with the domain's realm (401, not 404).
A subscriber created afterwards through the services then registers (200).
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from domains.models import Domain, DomainName, DomainOrigin, DomainState
from domains.services import domain_create
from proxies.generation import desired_generation
from proxies.models import Proxy
from subscribers.services import subscriber_create
from tests import dns_harness
from tests.kamailio_harness import (
    REPO,
    Kamailio,
    Sipp,
    free_port,
    proxy_login,
    scratch_dir,
    serweb_proxy,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.postgres

knot = dns_harness.knot
silent_port = dns_harness.silent_port

# The proxy as DNS names it: SRV targets with this name, or resolving to this address.
PROXY_ADDRESS = "127.0.0.1"


class Serweb:
    """serweb behind gunicorn on a free loopback port, configured by environment only."""

    def __init__(
        self,
        directory: Path,
        *,
        database_url: str,
        environment: dict[str, str],
        workers: int = 1,
        threads: int = 4,
    ):
        self.directory = directory
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.database_url = database_url
        self.environment = environment
        self.log_path = directory / "serweb.log"
        self.access_log = directory / "access.log"
        self.process: subprocess.Popen | None = None

    @property
    def lookup_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/proxy/lookup"

    def start(self) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            # No broker: the reload runs in-process right after the learning commit.
            if key not in ("CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            DJANGO_SETTINGS_MODULE="serweb.settings",
            SECRET_KEY="serweb-e2e-lookup-key",
            DATABASE_URL=self.database_url,
            # Plain HTTP on loopback: no redirect to HTTPS, cookies over HTTP.
            SERWEB_HTTPS="0",
            PYTHONPATH=str(REPO),
            **self.environment,
        )
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "serweb.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--graceful-timeout",
                "2",
                "--access-logfile",
                str(self.access_log),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            wait_until(self._ready, timeout=20, what=f"serweb answering on port {self.port}")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"serweb exited at start:\n{self.log_path.read_text()}")
        try:
            urllib.request.urlopen(f"{self.lookup_url}?host=ready.invalid", timeout=1)
        except urllib.error.HTTPError:
            return True  # any answer of the view: it runs
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def ask(self, host: str) -> tuple[int, dict]:
        """Ask the lookup as the proxy does: (status, JSON answer)."""
        try:
            with urllib.request.urlopen(f"{self.lookup_url}?host={host}", timeout=5) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def _lookups(self, host: str) -> list[int]:
        text = self.access_log.read_text() if self.access_log.exists() else ""
        return [
            int(line.split('" ')[1].split()[0])
            for line in text.splitlines()
            if f"/proxy/lookup?host={host} " in line
        ]

    def lookups(self, host: str, *, count: int) -> list[int]:
        """The status codes serweb answered for lookups of ``host``, in order, once it
        logged ``count`` of them (a line is logged just after its answer is sent)."""
        wait_until(lambda: len(self._lookups(host)) >= count, timeout=2, what="access log")
        time.sleep(0.1)  # no more than that
        return self._lookups(host)


class LookupKamailio(Kamailio):
    """The reference configuration with serweb's lookup switched on."""

    def __init__(
        self, directory: Path, db_url: str, *, lookup_url: str, defines: tuple[str, ...] = ()
    ):
        super().__init__(directory, db_url, reload_log=False, defines=defines)
        self.lookup_url = lookup_url

    def command(self) -> list[str]:
        return [
            *super().command(),
            "-A",
            "WITH_LOOKUP",
            "-A",
            f'SERWEB_LOOKUP_URL="{self.lookup_url}"',
        ]


class Site:
    """One serweb and the Kamailio that asks it."""

    def __init__(self, serweb: Serweb, kamailio: LookupKamailio):
        self.serweb = serweb
        self.kamailio = kamailio

    def stop(self) -> None:
        self.kamailio.stop()
        self.serweb.stop()


# --- the running pieces --------------------------------------------------------------------


@pytest.fixture(scope="module")
def work_dir():
    with scratch_dir("serweb-e2e-lookup-") as path:
        yield path


@pytest.fixture(scope="module")
def database(django_db_setup, django_db_blocker):
    """The test database's URL for serweb, and a read-only login for Kamailio."""

    with proxy_login(django_db_blocker, "serweb_e2e_lookup") as (url, where):
        user = connection.settings_dict.get("USER") or "postgres"
        yield {"serweb": f"postgres://{user}@{where}", "kamailio": url}


@pytest.fixture(scope="module")
def proxy_hostname(knot) -> str:
    name = knot.unique("kamailio")
    knot.add(name, "A", PROXY_ADDRESS)
    return name


@pytest.fixture(scope="module")
def start_site(work_dir, database, knot, proxy_hostname):
    started: list[Site] = []

    def start(name: str, *, auto_learn: bool) -> Site:
        directory = work_dir / name
        (directory / "kamailio").mkdir(parents=True)
        serweb = Serweb(
            directory,
            database_url=database["serweb"],
            environment={
                "SERWEB_DNS_NAMESERVERS": knot.nameserver,
                "SERWEB_DNS_AUTHORITY_PORT": str(knot.port),
                "SERWEB_DNS_TIMEOUT_MS": "300",
                "SERWEB_DNS_LIFETIME_MS": "1000",
                # The test zone is .test, reserved by default.
                "SERWEB_DNS_RESERVED_SUFFIXES": "localhost,local,invalid",
                "SERWEB_DNS_AUTO_LEARN": "1" if auto_learn else "0",
                "SERWEB_PROXY_HOSTNAMES": proxy_hostname,
                "SERWEB_PROXY_ADDRESSES": PROXY_ADDRESS,
                "SERWEB_LOOKUP_CLIENTS": "127.0.0.1/32",
            },
        )
        serweb.start()
        kamailio = LookupKamailio(
            directory / "kamailio", database["kamailio"], lookup_url=serweb.lookup_url
        )
        try:
            kamailio.start()
        except BaseException:
            serweb.stop()
            raise
        site = Site(serweb, kamailio)
        started.append(site)
        return site

    yield start
    for site in started:
        site.stop()


@pytest.fixture(scope="module")
def learning_site(start_site) -> Site:
    return start_site("learning", auto_learn=True)


@pytest.fixture(scope="module")
def closed_site(start_site) -> Site:
    return start_site("closed", auto_learn=False)


def as_proxy(site: Site) -> Proxy:
    """Register the site's Kamailio with serweb (so its reloads reach it), reloaded to this
    test's (empty) data."""
    return serweb_proxy(site.kamailio)


@pytest.fixture
def sipp_dir(work_dir, request) -> Path:
    directory = work_dir / "sipp" / request.node.name
    directory.mkdir(parents=True)
    return directory


def register_refused(sipp: Sipp, name: str):
    return sipp.run("register_refused.xml", keys={"user": "alice", "domain": name}, timeout=5)


# --- a fresh domain ------------------------------------------------------------------------


def test_a_domain_published_a_moment_ago_registers_without_an_operator(
    learning_site, transactional_db, knot, proxy_hostname, sipp_dir
):
    proxy = as_proxy(learning_site)
    kamailio, serweb = learning_site.kamailio, learning_site.serweb
    sipp = Sipp(sipp_dir, kamailio.sip_address)
    name = knot.unique("fresh")
    knot.srv(name, proxy_hostname, services=["_sip._udp", "_sip._tcp"])
    assert not DomainName.objects.filter(name=name).exists()
    assert kamailio.serves(name) is None

    started = time.monotonic()
    challenged = sipp.run("register_challenged.xml", keys={"user": "alice", "domain": name})
    first = time.monotonic() - started
    print(f"first REGISTER to a never-provisioned domain: challenged after {first:.2f} s")

    assert challenged.ok, challenged.explain()
    assert challenged.statuses() == [401]
    assert f"challenge realm={name}" in challenged.log
    # On a loaded machine SIPp may retransmit the REGISTER before the first answer, and the
    # proxy asks again: every answer says ours, the first one included.
    answers = serweb.lookups(name, count=1)
    assert answers[0] == 200 and set(answers) == {200}, answers
    # serweb learnt it (origin DNS, active) and reloaded this proxy before answering.
    domain = Domain.objects.get(did=name)
    assert (domain.origin, domain.state) == (DomainOrigin.DNS, DomainState.ACTIVE)
    proxy.refresh_from_db()
    assert proxy.applied_generation == desired_generation()
    assert kamailio.serves(name) == name

    subscriber_create(actor=None, domain=domain, username="alice", password="alice-secret")
    registered = sipp.run(
        "register.xml", keys={"user": "alice", "domain": name}, auth=("alice", "alice-secret")
    )
    assert registered.ok, registered.explain()
    assert registered.statuses() == [401, 200]
    assert len(kamailio.contacts(f"alice@{name}")) == 1
    # The domain table knew it by then: serweb was asked once.
    assert serweb.lookups(name, count=1) == [200]


def test_a_domain_whose_srv_target_has_our_address_is_learnt_too(
    learning_site, transactional_db, knot, sipp_dir
):
    as_proxy(learning_site)
    sipp = Sipp(sipp_dir, learning_site.kamailio.sip_address)
    name = knot.unique("fresh")
    knot.srv(name, f"sip.{name}")
    knot.add(f"sip.{name}", "A", PROXY_ADDRESS)

    challenged = sipp.run("register_challenged.xml", keys={"user": "bob", "domain": name})

    assert challenged.ok, challenged.explain()
    assert f"challenge realm={name}" in challenged.log
    assert Domain.objects.get(did=name).origin == DomainOrigin.DNS


# --- names that are not ours ---------------------------------------------------------------


def test_a_name_whose_dns_points_elsewhere_stays_404(
    learning_site, transactional_db, knot, sipp_dir
):
    as_proxy(learning_site)
    sipp = Sipp(sipp_dir, learning_site.kamailio.sip_address)
    name = knot.unique("elsewhere")
    knot.srv(name, f"sip.{name}")
    knot.add(f"sip.{name}", "A", "198.51.100.7")

    for _ in range(2):
        refused = register_refused(sipp, name)
        assert refused.ok, refused.explain()

    assert not DomainName.objects.filter(name=name).exists()
    assert learning_site.kamailio.serves(name) is None
    # The proxy remembers serweb's answer (its negative cache): serweb was asked once.
    assert learning_site.serweb.lookups(name, count=1) == [404]
    # Looked up in DNS once: the answers after the first come from serweb's negative cache.
    status, answer = learning_site.serweb.ask(name)
    assert status == 404
    assert answer["source"] == "negative-cache" and answer["reason"].startswith("DNS: foreign")
    assert 0 < answer["ttl"] <= 300


def test_a_name_nobody_published_stays_404(learning_site, transactional_db, knot, sipp_dir):
    as_proxy(learning_site)
    sipp = Sipp(sipp_dir, learning_site.kamailio.sip_address)
    name = knot.unique("nowhere")

    refused = register_refused(sipp, name)

    assert refused.ok, refused.explain()
    assert learning_site.serweb.lookups(name, count=1) == [404]
    assert not DomainName.objects.filter(name=name).exists()


def test_without_auto_learning_a_name_pointing_at_us_stays_404(
    closed_site, transactional_db, knot, proxy_hostname, sipp_dir
):
    as_proxy(closed_site)
    sipp = Sipp(sipp_dir, closed_site.kamailio.sip_address)
    name = knot.unique("fresh")
    knot.srv(name, proxy_hostname)

    refused = register_refused(sipp, name)

    assert refused.ok, refused.explain()
    assert closed_site.serweb.lookups(name, count=1) == [404]
    assert not DomainName.objects.filter(name=name).exists()


def test_without_serweb_an_unknown_name_is_refused_at_once(
    closed_site, transactional_db, knot, proxy_hostname, sipp_dir
):
    """The configuration keeps working while serweb is down: no hang, today's 404."""
    as_proxy(closed_site)
    sipp = Sipp(sipp_dir, closed_site.kamailio.sip_address)
    name = knot.unique("fresh")
    knot.srv(name, proxy_hostname)
    closed_site.serweb.stop()
    try:
        started = time.monotonic()
        refused = register_refused(sipp, name)
        took = time.monotonic() - started
    finally:
        closed_site.serweb.start()
    assert refused.ok, refused.explain()
    assert took < 2, f"refused after {took:.2f} s"
    assert "serweb lookup of " in closed_site.kamailio.log_text()


# --- random names against a DNS server that does not answer --------------------------------

# kamailio.cfg: SERWEB_LOOKUP_TIMEOUT, how long the proxy waits for an answer.
PROXY_TIMEOUT = 2.0


def timed_get(url: str) -> tuple[float, int, dict[str, str]]:
    """(seconds until the answer, status, headers); a client that gives up after twice the
    proxy's patience, so a starved server fails the test quickly."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=2 * PROXY_TIMEOUT) as answer:
            answer.read()
            status, headers = answer.status, dict(answer.headers)
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, dict(exc.headers)
    except OSError:
        status, headers = 0, {}  # no answer in time
    return time.monotonic() - started, status, headers


def test_random_names_against_a_silent_dns_server_starve_no_lookup_and_no_page(
    work_dir, database, silent_port, transactional_db
):
    known = domain_create(actor=None, name="known.flood.test").did
    directory = work_dir / "flood"
    directory.mkdir()
    serweb = Serweb(
        directory,
        database_url=database["serweb"],
        workers=2,
        threads=1,
        environment={
            # The production tries: 2 s each, 5 s per question.
            "SERWEB_DNS_NAMESERVERS": silent_port.nameserver,
            "SERWEB_DNS_TIMEOUT_MS": "2000",
            "SERWEB_DNS_LIFETIME_MS": "5000",
            "SERWEB_DNS_RESERVED_SUFFIXES": "localhost,local,invalid",
            "SERWEB_DNS_AUTO_LEARN": "1",
            "SERWEB_PROXY_ADDRESSES": PROXY_ADDRESS,
            "SERWEB_LOOKUP_CLIENTS": "127.0.0.1/32",
            "SERWEB_VAR_DIR": str(directory),
            # As README advises for production: no new database connection per request.
            "DATABASE_CONN_MAX_AGE": "60",
        },
    )
    serweb.start()
    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            # Both workers warm, as in production: names never served cost no DNS.
            list(pool.map(timed_get, [f"{serweb.lookup_url}?host=w{n}.invalid" for n in range(8)]))
            flood = [
                pool.submit(
                    timed_get, f"{serweb.lookup_url}?host=r{number}-{os.urandom(4).hex()}.test"
                )
                for number in range(50)
            ]
            time.sleep(0.2)  # all 50 asked, the two workers busy with them
            known_took, known_status, _ = timed_get(f"{serweb.lookup_url}?host={known}")
            page_took, page_status, _ = timed_get(f"http://127.0.0.1:{serweb.port}/admin/login/")
            answers = [future.result() for future in flood]
    finally:
        serweb.stop()

    slowest = max(took for took, _status, _headers in answers)
    statuses = sorted({status for _took, status, _headers in answers})
    print(
        f"50 random names: slowest answer {slowest:.2f} s, statuses {statuses}; "
        f"known host {known_took:.2f} s, page {page_took:.2f} s"
    )
    assert (known_status, page_status) == (200, 200)
    assert known_took < PROXY_TIMEOUT and page_took < PROXY_TIMEOUT
    for took, status, headers in answers:
        assert status == 404 or (status == 503 and "Retry-After" in headers), (status, headers)
        assert took < PROXY_TIMEOUT, f"a random name answered after {took:.2f} s"
