"""End to end: serweb's services and reload path against a real Kamailio and SIPp.

Kamailio (Debian's package, deploy/kamailio/kamailio.cfg) reads the test database through
a read-only role; every change here goes through the services and the reload path, never
through SQL. Tasks run eagerly (no broker) unless a test asks for the Celery worker.

Every test runs in both modes of looking domains up: the domain module, reloaded in full
(``domain``), and the htable index, sent change by change (``htable``: the configuration's
WITH_HTABLE_DOMAINS, SERWEB_PROXY_DOMAINS=htable). tests/test_e2e_htable_index.py has what
only the second one does.
"""

import os
import random
import signal
import time
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

import serweb.celery
from domains.dns.housekeeping import housekeeping_run
from domains.models import NameCheck, NameState
from domains.services import domain_attribute_set, domain_create, domain_disable, domain_enable
from proxies import drift, reload, transport
from proxies.config import config
from proxies.generation import desired_generation, desired_state
from proxies.models import Proxy
from proxies.services import proxy_create
from proxies.status import proxy_status_list, reload_waiting_note
from subscribers.services import (
    subscriber_create,
    subscriber_set_password,
    user_alias_add,
    valid_from_add,
)
from tests import dns_harness
from tests.kamailio_harness import (
    MODE_DEFINES,
    CeleryWorker,
    Kamailio,
    Sipp,
    free_port,
    proxy_login,
    redis_reachable,
    scratch_dir,
    serweb_proxy,
    wait_until,
)

pytestmark = pytest.mark.postgres

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

REDIS_URL = os.environ.get("SERWEB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


# --- the running pieces --------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_dir():
    with scratch_dir("serweb-e2e-") as path:
        yield path


@pytest.fixture(scope="session")
def kamailio_db_url(django_db_setup, django_db_blocker):
    with proxy_login(django_db_blocker, "serweb_e2e") as (url, _where):
        yield url


@pytest.fixture(scope="session", params=list(MODE_DEFINES))
def mode(request) -> str:
    """How the proxy looks domains up (SERWEB_PROXY_DOMAINS)."""
    return request.param


@pytest.fixture(scope="session")
def kamailio(kamailio_db_url, e2e_dir, mode):
    directory = e2e_dir / f"kamailio-{mode}"
    directory.mkdir()
    instance = Kamailio(directory, kamailio_db_url, defines=MODE_DEFINES[mode])
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def sipp(kamailio, e2e_dir, request) -> Sipp:
    directory = e2e_dir / "sipp" / request.node.name
    directory.mkdir(parents=True)
    return Sipp(directory, kamailio.sip_address)


@pytest.fixture
def proxy(kamailio, transactional_db, settings, mode) -> Proxy:
    """The running Kamailio as serweb's proxy, reloaded to this test's (empty) data."""
    settings.SERWEB_PROXY_DOMAINS = mode
    return serweb_proxy(kamailio)


@pytest.fixture(scope="session")
def worker_queue() -> str:
    return f"serweb-e2e-{os.getpid()}"


def _start_worker(django_db_blocker, directory, queue: str, env: dict[str, str]):
    if not redis_reachable():
        pytest.fail("the end-to-end tests need Redis on 127.0.0.1:6379 as Celery's broker")
    with django_db_blocker.unblock():
        db = connection.settings_dict
    database_url = (
        f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )
    directory.mkdir()
    worker = CeleryWorker(
        directory, broker_url=REDIS_URL, database_url=database_url, queue=queue, env=env
    )
    worker.start()
    return worker


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, e2e_dir, worker_queue, mode):
    queue = f"{worker_queue}-{mode}"
    env = {"SERWEB_PROXY_DOMAINS": mode}
    worker = _start_worker(django_db_blocker, e2e_dir / f"celery-{mode}", queue, env)
    yield worker
    worker.stop()


@contextmanager
def _tasks_to(queue: str):
    """Send tasks to the worker on ``queue`` instead of running them in-process."""
    conf = serweb.celery.app.conf
    saved = {key: conf[key] for key in ("task_always_eager", "broker_url", "task_default_queue")}
    conf.update(task_always_eager=False, broker_url=REDIS_URL, task_default_queue=queue)
    _forget_broker_connections(serweb.celery.app)
    try:
        yield
    finally:
        conf.update(saved)
        _forget_broker_connections(serweb.celery.app)


@pytest.fixture
def broker(celery_worker, worker_queue, mode):
    with _tasks_to(f"{worker_queue}-{mode}"):
        yield celery_worker


# A worker whose max-wait window is short, so a test sees several of them.
SHORT_MAX_WAIT = 1


@pytest.fixture
def short_wait_broker(django_db_setup, django_db_blocker, e2e_dir, worker_queue, settings, mode):
    queue = f"{worker_queue}-{mode}-short-wait"
    env = {"SERWEB_RELOAD_MAX_WAIT": str(SHORT_MAX_WAIT), "SERWEB_PROXY_DOMAINS": mode}
    directory = e2e_dir / f"celery-{mode}-short-wait"
    worker = _start_worker(django_db_blocker, directory, queue, env)
    settings.SERWEB_RELOAD_MAX_WAIT = SHORT_MAX_WAIT  # what the worker reads
    try:
        with _tasks_to(queue):
            yield worker
    finally:
        worker.stop()


def _forget_broker_connections(app) -> None:
    # Eager runs already built a connection pool and queue routes for the in-memory
    # broker; drop them (as Celery does after a fork) so the new settings take effect.
    app._pool = None
    app.__dict__.pop("amqp", None)


def desired() -> int:
    return desired_generation()


def caught_up(proxy: Proxy) -> bool:
    proxy.refresh_from_db()
    return proxy.applied_generation == desired() and proxy.reloading_since is None


def register(sipp: Sipp, user: str, domain: str, password: str, **options):
    return sipp.run(
        "register.xml", keys={"user": user, "domain": domain}, auth=(user, password), **options
    )


# --- registration --------------------------------------------------------------------------


def test_a_new_domain_is_refused_before_the_reload_and_served_after(proxy, sipp, kamailio):
    with transaction.atomic():
        domain = domain_create(actor=None, name="new.e2e.test", aliases=["sip.new.e2e.test"])
        subscriber_create(actor=None, domain=domain, username="alice", password="alice-secret")
        refused = sipp.run("register_refused.xml", keys={"user": "alice", "domain": "new.e2e.test"})
        assert refused.ok, refused.explain()
    # The commit reloaded the proxy (in-process: no broker).
    assert caught_up(proxy)
    registered = register(sipp, "alice", "sip.new.e2e.test", "alice-secret")
    assert registered.ok, registered.explain()
    assert registered.statuses() == [401, 200]
    assert "challenge realm=new.e2e.test" in registered.log
    assert len(kamailio.contacts("alice@new.e2e.test")) == 1


def test_every_name_of_a_domain_registers_one_contact_under_the_did(proxy, sipp, kamailio):
    domain = domain_create(
        actor=None,
        name="canon.e2e.test",
        aliases=["alias.e2e.test", "127.0.0.2", "2001:db8::10"],
    )
    subscriber_create(actor=None, domain=domain, username="carol", password="carol-secret")
    port = free_port()
    for name in ("alias.e2e.test", "127.0.0.2", "[2001:db8::10]", "canon.e2e.test"):
        result = register(sipp, "carol", name, "carol-secret", port=port)
        assert result.ok, result.explain()
        assert "challenge realm=canon.e2e.test" in result.log
    assert kamailio.contacts("carol@canon.e2e.test") == [f"sip:carol@127.0.0.1:{port}"]
    assert kamailio.contacts("carol@alias.e2e.test") == []


def test_a_user_cannot_register_another_users_address(proxy, sipp, kamailio):
    domain = domain_create(actor=None, name="own.e2e.test")
    subscriber_create(actor=None, domain=domain, username="gina", password="gina-secret")
    subscriber_create(actor=None, domain=domain, username="hank", password="hank-secret")
    result = sipp.run(
        "register.xml",
        keys={"user": "hank", "domain": "own.e2e.test"},
        auth=("gina", "gina-secret"),
    )
    assert result.statuses() == [401, 403], result.explain()
    assert kamailio.contacts("hank@own.e2e.test") == []


def test_the_subscribers_page_shows_the_contacts_the_proxy_holds(
    proxy, sipp, kamailio, client, alice, tmp_path
):
    domain = domain_create(actor=None, name="reg.e2e.test", aliases=["sip.reg.e2e.test"])
    ivy = subscriber_create(actor=None, domain=domain, username="ivy", password="ivy-secret")
    # A second proxy that is down: its panel says so beside the one that answers.
    proxy_create(actor=None, name="stopped", transport="fifo", address=str(tmp_path / "gone.fifo"))
    client.force_login(alice)
    panel_url = f"/subscribers/{ivy.pk}/registrations/"

    before = client.get(panel_url, headers={"HX-Request": "true"}).text
    assert "Proxy kam" in before and "Not registered here." in before
    assert "Proxy stopped" in before and "Kamailio is not running" in before

    port = free_port()
    registered = register(sipp, "ivy", "sip.reg.e2e.test", "ivy-secret", port=port)
    assert registered.ok, registered.explain()
    [contact] = transport.usrloc_lookup("fifo", kamailio.fifo, "ivy@reg.e2e.test", timeout=2)
    assert contact.address == f"sip:ivy@127.0.0.1:{port}"
    assert 590 <= contact.expires <= 600  # seconds left of the 600 asked for
    assert contact.socket == f"udp:{kamailio.sip_address}" and contact.user_agent == ""

    after = client.get(panel_url, headers={"HX-Request": "true"}).text
    assert f"<code>sip:ivy@127.0.0.1:{port}</code>" in after
    assert "Not registered here." not in after and "No proxy answered" not in after
    # Without JS the same panel is a page of its own, reached from the subscriber's page.
    page = client.get(f"/subscribers/{ivy.pk}/").text
    assert f'href="{panel_url}"' in page
    assert f"sip:ivy@127.0.0.1:{port}" in client.get(panel_url).text


def test_a_realm_attribute_changes_the_challenge_realm(proxy, sipp):
    domain = domain_create(actor=None, name="realm.e2e.test")
    dave = subscriber_create(actor=None, domain=domain, username="dave", password="dave-secret")
    before = register(sipp, "dave", "realm.e2e.test", "dave-secret")
    assert before.ok and "challenge realm=realm.e2e.test" in before.log, before.explain()

    domain_attribute_set(
        actor=None, domain=domain, name="realm", value="voip.e2e.test", accept_password_reset=True
    )
    subscriber_set_password(actor=None, subscriber=dave, password="dave-secret-2")
    after = register(sipp, "dave", "realm.e2e.test", "dave-secret-2")
    assert after.ok, after.explain()
    assert "challenge realm=voip.e2e.test" in after.log
    # Realm set at creation works the same way.
    other = domain_create(actor=None, name="realm2.e2e.test", attributes={"realm": "x.e2e.test"})
    subscriber_create(actor=None, domain=other, username="erin", password="erin-secret")
    result = register(sipp, "erin", "realm2.e2e.test", "erin-secret")
    assert result.ok and "challenge realm=x.e2e.test" in result.log, result.explain()


# --- calls ---------------------------------------------------------------------------------


@pytest.fixture
def office(proxy):
    """A domain with two users: alice may present From "boss", bob has the alias 1000."""
    domain = domain_create(
        actor=None, name="office.e2e.test", aliases=["sip.office.e2e.test", "127.0.0.3"]
    )
    alice = subscriber_create(actor=None, domain=domain, username="alice", password="alice-secret")
    valid_from_add(actor=None, subscriber=alice, from_user="boss")
    bob = subscriber_create(actor=None, domain=domain, username="bob", password="bob-secret")
    user_alias_add(actor=None, domain=domain, username="1000", subscriber=bob)
    return domain


def answer_one_call_as_bob(sipp: Sipp, via: str):
    port = free_port()
    registered = register(sipp, "bob", via, "bob-secret", port=port)
    assert registered.ok, registered.explain()
    return sipp.start_uas(port=port)


def call(
    sipp: Sipp, *, from_user: str, from_domain: str, callee: str, domain: str, scenario="invite.xml"
):
    keys = {"from_user": from_user, "from_domain": from_domain, "callee": callee, "domain": domain}
    return sipp.run(scenario, keys=keys, auth=("alice", "alice-secret"))


def test_a_call_with_a_valid_from_identity_is_authenticated_and_answered(office, sipp):
    uas = answer_one_call_as_bob(sipp, "office.e2e.test")
    try:
        result = call(
            sipp,
            from_user="boss",
            from_domain="sip.office.e2e.test",
            callee="bob",
            domain="office.e2e.test",
        )
        assert result.ok, result.explain()
        assert 407 in result.statuses() and 200 in result.statuses()
        assert uas.wait().ok
    finally:
        uas.stop()


def test_a_call_with_an_unlisted_from_user_gets_403(office, sipp):
    result = call(
        sipp,
        from_user="mallory",
        from_domain="office.e2e.test",
        callee="bob",
        domain="office.e2e.test",
        scenario="invite_forbidden.xml",
    )
    assert result.ok, result.explain()
    assert result.statuses()[-1] == 403


def test_a_call_to_a_user_alias_via_another_name_reaches_the_subscriber(office, sipp):
    uas = answer_one_call_as_bob(sipp, "sip.office.e2e.test")
    try:
        result = call(
            sipp,
            from_user="alice",
            from_domain="office.e2e.test",
            callee="1000",
            domain="127.0.0.3",
        )
        assert result.ok, result.explain()
        answered = uas.wait()
        assert answered.ok, answered.explain()
        assert "INVITE sip:bob@" in answered.messages
    finally:
        uas.stop()


# --- disabling -----------------------------------------------------------------------------


def test_a_disabled_domain_gets_404_and_comes_back_when_enabled(proxy, sipp, kamailio):
    domain = domain_create(actor=None, name="off.e2e.test", aliases=["sip.off.e2e.test"])
    subscriber_create(actor=None, domain=domain, username="frank", password="frank-secret")
    assert register(sipp, "frank", "off.e2e.test", "frank-secret").ok

    domain_disable(actor=None, domain=domain)
    assert caught_up(proxy)
    refused = sipp.run("register_refused.xml", keys={"user": "frank", "domain": "sip.off.e2e.test"})
    assert refused.ok, refused.explain()
    assert kamailio.serves("off.e2e.test") is None

    domain_enable(actor=None, domain=domain)
    again = register(sipp, "frank", "sip.off.e2e.test", "frank-secret")
    assert again.ok, again.explain()


# --- DNS housekeeping of every name --------------------------------------------------------


def _housekeeping_at(when) -> None:
    run = housekeeping_run(slot=0, slots=1, now=when)
    assert run is not None and run.status == "completed", run and run.message


def test_a_dead_alias_gets_404_while_the_canonical_name_registers(
    proxy, sipp, kamailio, knot, dns_settings
):
    """An alias whose zone answers NXDOMAIN: suspect, disabled, removed over the grace
    periods, the domain served under its canonical name all along."""
    name = knot.unique("e2e")
    alias = f"sip.{name}"  # nothing published: NXDOMAIN
    knot.srv(name, dns_harness.PROXY_HOSTNAMES[0])
    domain = domain_create(actor=None, name=name, aliases=[alias])
    subscriber_create(actor=None, domain=domain, username="nina", password="nina-secret")
    t0 = timezone.now()
    hour = timedelta(hours=1)

    _housekeeping_at(t0)  # suspect: still served
    assert register(sipp, "nina", alias, "nina-secret").ok
    for hours in (7, 14, 75):
        _housekeeping_at(t0 + hours * hour)
    assert caught_up(proxy)
    assert kamailio.serves(name) == name and kamailio.serves(alias) is None
    via_canonical = register(sipp, "nina", name, "nina-secret")
    assert via_canonical.statuses() == [401, 200], via_canonical.explain()
    refused = sipp.run("register_refused.xml", keys={"user": "nina", "domain": alias})
    assert refused.ok, refused.explain()

    # Its records come back: served again at the next run.
    knot.srv(alias, dns_harness.PROXY_HOSTNAMES[1])
    _housekeeping_at(t0 + 76 * hour)
    assert caught_up(proxy)
    again = register(sipp, "nina", alias, "nina-secret")
    assert again.ok, again.explain()

    # Lost for good: disabled, then removed after the second grace.
    knot.remove(f"_sip._udp.{alias}")
    t1 = t0 + 100 * hour
    for hours in (0, 7, 14, 75, 75 + 31 * 24):
        _housekeeping_at(t1 + hours * hour)
    assert NameCheck.objects.get(name__name=alias).state == NameState.REMOVED
    assert caught_up(proxy)
    refused = sipp.run("register_refused.xml", keys={"user": "nina", "domain": alias})
    assert refused.ok, refused.explain()
    assert register(sipp, "nina", name, "nina-secret").ok
    assert kamailio.contacts(f"nina@{name}")


# --- transports and checks -----------------------------------------------------------------


def test_udp_and_http_transports_reload_the_same_proxy(proxy, kamailio):
    before = kamailio.reloads_logged()
    for kind, address in (("udp", kamailio.udp_rpc), ("http", kamailio.http_rpc)):
        other = proxy_create(actor=None, name=f"kam-{kind}", transport=kind, address=address)
        outcome = reload.proxy_reload(other.pk, force=True)
        assert outcome.status == reload.Status.APPLIED, outcome
    assert kamailio.reloads_logged() == before + 2


def test_no_reload_when_the_tables_would_not_fit(proxy, kamailio, settings):
    settings.SERWEB_PROXY_SHM_RESERVE = 1 << 40
    before = kamailio.reloads_logged()
    domain_create(actor=None, name="big.e2e.test")
    proxy.refresh_from_db()
    assert kamailio.reloads_logged() == before
    assert proxy.last_error.startswith("shared memory") and proxy.shm_total == 64 * 1024 * 1024
    assert proxy_status_list()[0].state == "no room"


def test_the_drift_check_repairs_a_proxy_that_holds_stale_data(proxy, kamailio):
    # A change that never reached the proxy while serweb's record says it did (a reload
    # that read a lagging replica, a proxy restored from an old state): set up by keeping
    # the proxy out of the change, then recording the generation as applied.
    Proxy.objects.filter(pk=proxy.pk).update(enabled=False)
    domain_create(actor=None, name="drift.e2e.test")
    generation, changed_at = desired_state()
    Proxy.objects.filter(pk=proxy.pk).update(
        enabled=True, applied_generation=generation, applied_changed_at=changed_at
    )
    assert kamailio.serves("drift.e2e.test") is None

    [report] = drift.drift_check(reload_now=True)
    assert report.action == "repaired", report
    assert "drift.e2e.test is served as nothing" in report.detail
    assert kamailio.serves("drift.e2e.test") == "drift.e2e.test"
    assert caught_up(proxy)


def test_without_a_broker_a_stopped_kamailio_slows_no_change(proxy, kamailio):
    kamailio.stop()
    try:
        slowest = 0.0
        for number in range(10):
            started = time.monotonic()
            domain_create(actor=None, name=f"eager{number}.e2e.test")
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 0.5, f"a change took {slowest:.2f} s while the proxy was down"
        proxy.refresh_from_db()
        # The first change found it down; the others, within the backoff, did not try.
        assert proxy.failures == 1 and "not running" in proxy.last_error
        assert "kam" in reload_waiting_note()
    finally:
        kamailio.start()
    # No broker, no timer: cron or an operator runs the pending reloads.
    out = StringIO()
    call_command("proxy", "reload", "--pending", stdout=out)
    assert out.getvalue() == f"kam: reloaded, generation {desired()} live\n"
    assert caught_up(proxy)


def test_a_kamailio_that_does_not_answer_holds_a_change_up_for_the_timeout_only(
    proxy, kamailio, settings
):
    settings.SERWEB_PROXY_RPC_TIMEOUT = 1
    # Stopped, not dead: the FIFO still has a reader, which never answers.
    os.killpg(kamailio.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        domain_create(actor=None, name="wedged.e2e.test")
        took = time.monotonic() - started
    finally:
        os.killpg(kamailio.process.pid, signal.SIGCONT)
    assert took < 2.5, f"the change took {took:.2f} s"
    proxy.refresh_from_db()
    assert "no reply" in proxy.last_error and proxy.applied_generation < desired()
    assert reload.proxy_reload(proxy.pk).status == reload.Status.APPLIED
    assert kamailio.serves("wedged.e2e.test") == "wedged.e2e.test"


# --- with a broker: retries and coalescing -------------------------------------------------


def test_with_a_worker_a_change_is_live_within_two_seconds(proxy, kamailio, broker):
    latencies = []
    for number in range(3):
        name = domain_create(actor=None, name=f"quick{number}.e2e.test").did
        committed = time.monotonic()
        wait_until(lambda n=name: kamailio.serves(n), timeout=5, interval=0.02, what="live")
        latencies.append(time.monotonic() - committed)
    print("commit to live with a worker: " + ", ".join(f"{t:.2f} s" for t in latencies))
    assert max(latencies) < 2


def test_a_reload_queued_under_the_old_task_name_is_done_by_the_new_worker(
    proxy, kamailio, broker, worker_queue, mode
):
    # Before an upgrade a reload was queued as domains.tasks.reload_proxy (the flag says a
    # task is on its way, so the change rides on it); the upgraded worker knows the task as
    # proxies.tasks.reload_proxy.
    Proxy.objects.filter(pk=proxy.pk).update(reload_scheduled_at=timezone.now())
    domain = domain_create(actor=None, name="queued-before.e2e.test")
    assert not caught_up(proxy) and kamailio.serves(domain.did) is None

    serweb.celery.app.send_task(
        "domains.tasks.reload_proxy", args=[proxy.pk], queue=f"{worker_queue}-{mode}"
    )

    wait_until(lambda: kamailio.serves(domain.did) == domain.did, timeout=10, what="live")
    wait_until(lambda: caught_up(proxy), timeout=10, what="serweb sees the proxy caught up")
    assert Proxy.objects.get(pk=proxy.pk).reload_scheduled_at is None


def test_changes_while_kamailio_is_down_are_live_soon_after_it_is_back(proxy, kamailio, broker):
    kamailio.stop()
    names, slowest = [], 0.0
    for number in range(50):
        started = time.monotonic()
        domain = domain_create(actor=None, name=f"down{number}.e2e.test")
        slowest = max(slowest, time.monotonic() - started)
        names.append(domain.did)
    assert slowest < 1.0, f"a change took {slowest:.2f} s while the proxy was down"
    wait_until(lambda: Proxy.objects.get(pk=proxy.pk).failures > 0, timeout=5, what="a failed try")

    kamailio.start()
    back = time.monotonic()
    wait_until(lambda: all(kamailio.serves(n) == n for n in names), timeout=10, what="all live")
    wait_until(lambda: caught_up(proxy), timeout=10, what="serweb sees the proxy caught up")
    print(f"caught up {time.monotonic() - back:.2f} s after Kamailio was back")


class Changes:
    """When each change happened as the reload path sees it: its generation bump (the
    database's changed_at) and, an upper bound for its commit, when the call returned."""

    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []

    def made(self) -> None:
        _generation, changed_at = desired_state()
        self.times.append((changed_at.timestamp(), time.time()))

    def __len__(self) -> int:
        return len(self.times)

    def reloads_allowed(self, *, quiet: float, max_wait: float) -> int:
        """The most reloads the coalescing rule allows: while changes keep coming, one per
        max-wait window; after they stop, one. A pause of a quiet time or more (a stall of
        this loaded machine) ends a stream, and the next one starts its own window."""
        allowed, stream_start = 0, self.times[0][0]
        following = [*self.times[1:], (float("inf"), float("inf"))]
        for (bumped, _committed), (next_bumped, next_committed) in zip(
            self.times, following, strict=True
        ):
            # The worker's debounce sees a pause from this bump until the next commit.
            if next_committed - bumped >= quiet:
                # A max-wait reload needs a change less than a quiet time before it.
                allowed += int((bumped + quiet - stream_start) // max_wait) + 1
                stream_start = next_bumped
        return allowed


def assert_coalesced(reload_times: list[float], changes: Changes, proxy: Proxy, mode: str) -> None:
    """Full reloads: one per quiet or max-wait window at most. In the htable index mode,
    none at all: the changes went out as they came, in fewer updates than changes."""
    if mode == "htable":
        proxy.refresh_from_db()
        print(f"{len(changes)} changes: {proxy.update_count} updates, {len(reload_times)} reloads")
        assert reload_times == [] and 1 <= proxy.update_count
        return
    cfg = config()
    allowed = changes.reloads_allowed(quiet=cfg.quiet, max_wait=cfg.max_wait)
    gaps = [later - earlier for earlier, later in zip(reload_times, reload_times[1:], strict=False)]
    took = changes.times[-1][1] - changes.times[0][0]
    print(
        f"{len(changes)} changes in {took:.1f} s: {len(reload_times)} reloads "
        f"(allowed {allowed}), closest {min(gaps, default=0):.2f} s apart"
    )
    assert 1 <= len(reload_times) <= allowed
    # One per quiet window at most; half of it, as the log is polled on a loaded machine.
    assert all(gap >= cfg.quiet / 2 for gap in gaps), gaps


def test_a_burst_of_a_thousand_changes_costs_one_reload_per_max_wait_window(
    proxy, kamailio, broker, mode
):
    names, changes = [], Changes()
    with kamailio.reload_times() as reload_times:
        for number in range(100):  # 100 domains with 9 subscribers each: 1,000 transactions
            domain = domain_create(actor=None, name=f"burst{number}.e2e.test")
            changes.made()
            names.append(domain.did)
            for user in range(9):
                subscriber_create(
                    actor=None, domain=domain, username=f"u{user}", password="burst-pass"
                )
                changes.made()
        wait_until(lambda: caught_up(proxy), timeout=30, what="the proxy caught up after the burst")
    assert_coalesced(reload_times, changes, proxy, mode)
    assert all(kamailio.serves(name) == name for name in names)


def test_a_stream_of_changes_costs_one_reload_per_max_wait_window(
    proxy, kamailio, short_wait_broker, mode
):
    names, changes = [], Changes()
    with kamailio.reload_times() as reload_times:
        stream_end = time.monotonic() + 8 * SHORT_MAX_WAIT
        while time.monotonic() < stream_end:
            names.append(domain_create(actor=None, name=f"stream{len(names)}.e2e.test").did)
            changes.made()
            time.sleep(random.uniform(0.05, 0.1))
        during = len(reload_times) + Proxy.objects.get(pk=proxy.pk).update_count
        wait_until(
            lambda: caught_up(proxy), timeout=30, what="the proxy caught up after the stream"
        )
    assert_coalesced(reload_times, changes, proxy, mode)
    # The proxy was not left waiting for the end: changes went live along the way.
    assert during >= 8 // 2, f"{during} reloads and updates while changes kept coming"
    assert all(kamailio.serves(name) == name for name in names)
