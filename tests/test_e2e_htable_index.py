"""End to end: the htable index mode against a real Kamailio and SIPp.

The reference configuration with ``-A WITH_HTABLE_DOMAINS`` holds every served name in the
hash table ``domnames`` (loaded from ``domain_names_htable``) and the attributes in
``domattrs``; serweb runs with SERWEB_PROXY_DOMAINS=htable and sends each committed change
as htable.sets/htable.delete of the keys it touched. The scenarios both modes share are in
tests/test_e2e_kamailio.py; these are the ones only this mode has: how fast a change is
live, a name moved between domains, and when it falls back to a full htable.reload (which
the configuration logs, WITH_RELOAD_LOG). Tasks run eagerly, as without a broker.
"""

import statistics
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from domains.services import domain_create, domain_name_add, domain_name_remove
from proxies import drift, receivers, reload, transport
from proxies.generation import desired_generation
from proxies.models import Proxy
from subscribers.services import subscriber_create
from tests.helpers import in_parallel
from tests.kamailio_harness import (
    MODE_DEFINES,
    Kamailio,
    Sipp,
    proxy_login,
    scratch_dir,
    serweb_proxy,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def index_dir():
    with scratch_dir("serweb-e2e-htable-index-") as path:
        yield path


@pytest.fixture(scope="session")
def index_db_url(django_db_setup, django_db_blocker):
    with proxy_login(django_db_blocker, "serweb_e2e_hti") as (url, _where):
        yield url


@pytest.fixture(scope="session")
def kamailio(index_db_url, index_dir):
    directory = index_dir / "kamailio"
    directory.mkdir()
    instance = Kamailio(directory, index_db_url, defines=MODE_DEFINES["htable"])
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def sipp(kamailio, index_dir, request) -> Sipp:
    directory = index_dir / "sipp" / request.node.name
    directory.mkdir(parents=True)
    return Sipp(directory, kamailio.sip_address)


@pytest.fixture
def proxy(kamailio, transactional_db, settings) -> Proxy:
    settings.SERWEB_PROXY_DOMAINS = "htable"
    return serweb_proxy(kamailio, "kam-index")


def caught_up(proxy: Proxy) -> bool:
    proxy.refresh_from_db()
    return proxy.applied_generation == desired_generation() and proxy.reloading_since is None


def test_a_new_domain_is_served_within_milliseconds_without_a_full_reload(proxy, kamailio, sipp):
    reloads = kamailio.reloads_logged()
    times = []
    for number in range(20):
        started = time.perf_counter()
        domain = domain_create(actor=None, name=f"fast{number}.index.test")
        assert kamailio.serves(domain.did) == domain.did
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"commit to live: median {median * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    # The transaction, one htable.sets, the probe and the OPTIONS asked here.
    assert median < 0.1, times
    assert kamailio.reloads_logged() == reloads
    proxy.refresh_from_db()
    assert proxy.update_count == 20 and proxy.reload_count == 1

    # Served as the stock mode serves it: a REGISTER to it is challenged with its realm.
    subscriber_create(actor=None, domain=domain, username="alice", password="alice-secret")
    result = sipp.run(
        "register.xml", keys={"user": "alice", "domain": domain.did}, auth=("alice", "alice-secret")
    )
    assert result.ok and f"challenge realm={domain.did}" in result.log, result.explain()


def test_a_name_moved_between_domains_is_never_served_by_both_or_neither(proxy, kamailio):
    old = domain_create(actor=None, name="old.index.test", aliases=["moving.index.test"])
    new = domain_create(actor=None, name="new.index.test")
    answers: list[str | None] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            answers.append(kamailio.serves("moving.index.test"))

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        time.sleep(0.1)
        with transaction.atomic():
            domain_name_remove(actor=None, domain=old, name="moving.index.test")
            domain_name_add(actor=None, domain=new, name="moving.index.test")
        time.sleep(0.1)
    finally:
        stop.set()
        asker.join()
    switch = answers.index(new.did)
    print(f"{len(answers)} answers, the switch after {switch}")
    assert answers[:switch] == [old.did] * switch and switch > 0
    assert set(answers[switch:]) == {new.did}


def test_a_proxy_restarted_between_two_changes_gets_a_full_reload(proxy, kamailio):
    first = domain_create(actor=None, name="before.index.test")
    assert caught_up(proxy) and proxy.update_count == 1
    # A start within core.uptime's second-granularity slack would pass for none.
    time.sleep(max(0.0, 3 - (time.time() - proxy.proxy_started_at.timestamp())))
    kamailio.stop()
    kamailio.start()
    reloads = kamailio.reloads_logged()

    second = domain_create(actor=None, name="after.index.test")
    assert kamailio.reloads_logged() == reloads + 1
    assert caught_up(proxy) and proxy.update_count == 1 and not proxy.full_reload_due
    assert kamailio.serves(first.did) == first.did and kamailio.serves(second.did) == second.did
    domain_create(actor=None, name="later.index.test")
    assert caught_up(proxy) and proxy.update_count == 2


def test_a_change_log_that_outgrew_the_threshold_is_one_full_reload(proxy, kamailio, settings):
    settings.SERWEB_PROXY_INCREMENTAL_MAX = 10
    Proxy.objects.filter(pk=proxy.pk).update(enabled=False)
    names = [domain_create(actor=None, name=f"grew{n}.index.test").did for n in range(11)]
    Proxy.objects.filter(pk=proxy.pk).update(enabled=True)
    reloads = kamailio.reloads_logged()

    assert reload.proxy_reload(proxy.pk).status == reload.Status.APPLIED
    assert kamailio.reloads_logged() == reloads + 1
    assert all(kamailio.serves(name) == name for name in names)
    assert caught_up(proxy) and proxy.update_count == 0


def test_a_crash_between_commit_and_send_is_caught_up_from_the_log(proxy, kamailio, monkeypatch):
    reloads = kamailio.reloads_logged()
    with monkeypatch.context() as crashed:
        # The process dies after the commit, before it tells the proxy anything.
        crashed.setattr(receivers, "_after_commit", lambda: None)
        domain = domain_create(
            actor=None, name="crash.index.test", aliases=["sip.crash.index.test"]
        )
    assert kamailio.serves("sip.crash.index.test") is None

    out = StringIO()
    call_command("proxy", "reload", "--pending", stdout=out)
    assert out.getvalue() == f"kam-index: reloaded, generation {desired_generation()} live\n"
    assert kamailio.serves("sip.crash.index.test") == domain.did
    assert kamailio.reloads_logged() == reloads
    assert caught_up(proxy) and proxy.update_count == 1


def test_two_changes_at_once_are_both_served(proxy, kamailio):
    reloads = kamailio.reloads_logged()
    names = [f"at-once{n}.index.test" for n in range(2)]
    results = in_parallel(2, lambda n: domain_create(actor=None, name=names[n]).did)
    assert results == names
    assert all(kamailio.serves(name) == name for name in names)
    assert caught_up(proxy) and kamailio.reloads_logged() == reloads


def test_an_rpc_error_falls_back_to_a_full_reload(proxy, kamailio, monkeypatch):
    real_set = transport.htable_set

    def refuse_once(*args, **kwargs):
        monkeypatch.setattr(transport, "htable_set", real_set)
        raise transport.ProxyRpcError(500, "Key set failed")

    monkeypatch.setattr(transport, "htable_set", refuse_once)
    reloads = kamailio.reloads_logged()
    domain = domain_create(actor=None, name="refused.index.test")
    assert kamailio.reloads_logged() == reloads + 1
    assert kamailio.serves(domain.did) == domain.did
    assert caught_up(proxy) and "Key set failed" in proxy.last_error


def test_the_drift_check_repairs_with_a_full_reload(proxy, kamailio):
    domain = domain_create(actor=None, name="drift.index.test", aliases=["sip.drift.index.test"])
    # Behind serweb's back: a name gone, a stray one added.
    kamailio.rpc("htable.delete", ["domnames", "sip.drift.index.test"])
    kamailio.rpc("htable.sets", ["domnames", "stray.index.test", domain.did])
    reloads = kamailio.reloads_logged()

    [report] = drift.drift_check(reload_now=True)
    assert report.action == "repaired", report
    assert kamailio.reloads_logged() == reloads + 1
    assert kamailio.serves("sip.drift.index.test") == domain.did
    assert kamailio.serves("stray.index.test") is None
    assert caught_up(proxy)
