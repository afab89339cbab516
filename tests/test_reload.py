"""The reload pipeline (proxies.reload, proxies.drift, proxies.tasks) against a stand-in proxy.

The stand-in loads the proxy-facing ``domain`` relation when told to reload and answers
probes from what it loaded, as the reference Kamailio configuration does. Changes go
through the services and commit for real (transactional_db), so on_commit hooks and
claims behave as in production; tasks run eagerly, as without a broker.
"""

import json
import time
from datetime import timedelta
from io import StringIO

import pytest
from celery.exceptions import Retry
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from domains.services import domain_create, domain_disable, domain_name_add
from proxies import drift, memory, reload, sip_probe, transport
from proxies.config import config
from proxies.generation import desired_generation
from proxies.models import Proxy, ReloadState
from proxies.status import domain_pending_proxies, proxy_status_list, reload_waiting_note
from proxies.tasks import reload_proxy
from serweb.celery import app, task_named
from tests.helpers import proxy_rows

MIB = 1024 * 1024


class FakeKamailio:
    def __init__(self):
        self.up = True
        self.reloads = 0
        self.served: dict[str, str] = {}
        self.shm_total = 64 * MIB
        self.shm_free = 60 * MIB
        self.reload_error: Exception | None = None
        self.load_tables = True
        self.during_reload = None
        self.started = time.monotonic() - 3600
        self.did_header = True

    def domain_reload(self, kind: str, address: str, *, timeout: float) -> None:
        if not self.up:
            raise transport.ProxyUnreachable("nobody reads the FIFO: Kamailio is not running")
        if self.reload_error is not None:
            raise self.reload_error
        self.reloads += 1
        if self.during_reload is not None:
            hook, self.during_reload = self.during_reload, None
            hook()
        if self.load_tables:
            self.served = dict(proxy_rows("domain", "domain, did"))

    def shm_stats(self, kind: str, address: str, *, timeout: float) -> transport.ShmStats:
        if not self.up:
            raise transport.ProxyUnreachable("Kamailio is not running")
        used = self.shm_total - self.shm_free
        return transport.ShmStats(self.shm_total, self.shm_free, used, used)

    def uptime_seconds(self, kind: str, address: str, *, timeout: float) -> float:
        if not self.up:
            raise transport.ProxyUnreachable("Kamailio is not running")
        return time.monotonic() - self.started

    def sip_options(self, address: str, name: str, *, timeout: float) -> sip_probe.SipAnswer:
        if name in self.served:
            headers = {"x-serweb-did": self.served[name]} if self.did_header else {}
            return sip_probe.SipAnswer(200, "OK", headers)
        return sip_probe.SipAnswer(404, "Not Here", {})


@pytest.fixture
def kamailio(monkeypatch) -> FakeKamailio:
    fake = FakeKamailio()
    monkeypatch.setattr(transport, "domain_reload", fake.domain_reload)
    monkeypatch.setattr(transport, "shm_stats", fake.shm_stats)
    monkeypatch.setattr(transport, "uptime_seconds", fake.uptime_seconds)
    monkeypatch.setattr(sip_probe, "options", fake.sip_options)
    return fake


@pytest.fixture
def kam1(transactional_db) -> Proxy:
    return Proxy.objects.create(
        name="kam1",
        transport="fifo",
        address="/run/kamailio/rpc.fifo",
        sip_address="127.0.0.1:5070",
    )


def desired() -> int:
    return desired_generation()


def fresh(proxy: Proxy) -> Proxy:
    proxy.refresh_from_db()
    return proxy


# --- after each change ---------------------------------------------------------------------


def test_a_committed_change_reloads_each_enabled_proxy_once(kamailio, kam1):
    Proxy.objects.create(name="off", transport="udp", address="127.0.0.1:8090", enabled=False)
    domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    kam1 = fresh(kam1)
    assert kamailio.reloads == 1
    assert kam1.applied_generation == desired() == 1
    assert kam1.reload_count == 1
    assert kam1.reload_scheduled_at is None and kam1.reloading_since is None
    assert kam1.last_verified_at is not None
    assert kamailio.served == {"alpha.test": "alpha.test", "sip.alpha.test": "alpha.test"}
    assert Proxy.objects.get(name="off").applied_generation == 0


def test_many_changes_in_one_transaction_cost_one_reload(kamailio, kam1):
    with transaction.atomic():
        for number in range(20):
            domain_create(actor=None, name=f"d{number}.test")
    assert kamailio.reloads == 1
    assert fresh(kam1).applied_generation == desired() == 1
    assert len(kamailio.served) == 20


def test_a_rolled_back_change_does_not_reload(kamailio, kam1):
    with pytest.raises(RuntimeError), transaction.atomic():
        domain_create(actor=None, name="alpha.test")
        raise RuntimeError("abandon")
    assert kamailio.reloads == 0
    assert desired() == 0


def test_a_proxy_that_is_down_fails_nothing_and_catches_up_later(kamailio, kam1):
    kamailio.up = False
    domain = domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert kam1.applied_generation == 0 < desired()
    assert kam1.failures == 1
    assert "not running" in kam1.last_error and kam1.last_error_at is not None
    assert kam1.reload_scheduled_at is None and kam1.reloading_since is None
    assert domain_pending_proxies(domain) == ["kam1"]
    assert "kam1" in reload_waiting_note()

    kamailio.up = True
    outcome = reload.proxy_reload(kam1.pk)
    assert outcome.status == reload.Status.APPLIED
    kam1 = fresh(kam1)
    assert kam1.applied_generation == desired() and kam1.failures == 0
    assert domain_pending_proxies(domain) == []
    assert reload_waiting_note() is None


def test_without_a_broker_changes_during_the_backoff_do_not_try_again(kamailio, kam1):
    kamailio.up = False
    domain_create(actor=None, name="alpha.test")
    assert fresh(kam1).failures == 1 and kam1.next_retry_at > timezone.now()
    domain_create(actor=None, name="beta.test")
    domain_create(actor=None, name="gamma.test")
    assert fresh(kam1).failures == 1

    Proxy.objects.filter(pk=kam1.pk).update(next_retry_at=timezone.now())  # the backoff is over
    domain_create(actor=None, name="delta.test")
    assert fresh(kam1).failures == 2


def test_the_drift_check_retries_a_proxy_that_was_down(kamailio, kam1):
    kamailio.up = False
    domain_create(actor=None, name="alpha.test")
    kamailio.up = True
    Proxy.objects.filter(pk=kam1.pk).update(next_retry_at=timezone.now())  # the backoff is over
    reports = drift.drift_check()
    assert [(r.proxy, r.action) for r in reports] == [("kam1", "scheduled")]
    assert fresh(kam1).applied_generation == desired()
    assert kamailio.served == {"alpha.test": "alpha.test"}


def test_the_drift_check_from_cron_retries_at_once(kamailio, kam1):
    kamailio.up = False
    domain_create(actor=None, name="alpha.test")
    kamailio.up = True
    [report] = drift.drift_check(reload_now=True)
    assert report.action == reload.Status.APPLIED
    assert fresh(kam1).applied_generation == desired() and kam1.next_retry_at is None


# --- one reload at a time ------------------------------------------------------------------


def test_a_claimed_proxy_is_not_reloaded_twice(kamailio, kam1):
    Proxy.objects.filter(pk=kam1.pk).update(reloading_since=timezone.now())
    domain_create(actor=None, name="alpha.test")
    assert kamailio.reloads == 0
    assert reload.proxy_reload(kam1.pk).status == reload.Status.BUSY


def test_a_stale_claim_is_taken_over(kamailio, kam1, settings):
    settings.SERWEB_RELOAD_CLAIM_TTL = 60
    long_ago = timezone.now() - timedelta(seconds=61)
    Proxy.objects.filter(pk=kam1.pk).update(reloading_since=long_ago)
    domain_create(actor=None, name="alpha.test")
    assert kamailio.reloads == 1
    assert fresh(kam1).reloading_since is None


def test_a_change_during_a_reload_gets_one_trailing_reload(kamailio, kam1):
    domain = domain_create(actor=None, name="alpha.test")
    kamailio.during_reload = lambda: domain_name_add(actor=None, domain=domain, name="late.test")
    domain_name_add(actor=None, domain=domain, name="sip.alpha.test")
    assert kamailio.reloads == 3  # create, the change, one trailing for the late change
    assert fresh(kam1).applied_generation == desired() == 3
    assert kamailio.served["late.test"] == "alpha.test"


def test_a_timed_out_reload_keeps_the_claim(kamailio, kam1):
    kamailio.reload_error = transport.ProxyTimeout("no reply from Kamailio in time")
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    # Kamailio may still be loading: no second domain.reload until the claim is stale.
    assert kam1.reloading_since is not None
    assert "no reply" in kam1.last_error
    kamailio.reload_error = None
    assert reload.proxy_reload(kam1.pk).status == reload.Status.BUSY


# --- checks before and after ---------------------------------------------------------------


def test_no_reload_when_the_tables_would_not_fit(kamailio, kam1, caplog):
    kamailio.shm_total = 8 * MIB
    kamailio.shm_free = 1 * MIB
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert kamailio.reloads == 0
    assert kam1.last_error.startswith("shared memory")
    assert kam1.shm_free == 1 * MIB and kam1.shm_total == 8 * MIB
    assert "larger -m" in caplog.text
    [status] = proxy_status_list()
    assert status.state == "no room"


def test_a_second_copy_must_fit_only_until_the_first_reload_after_a_start(kamailio, kam1, settings):
    settings.SERWEB_PROXY_SHM_RESERVE = 0
    kamailio.shm_total = 1 * MIB  # 10 % of it, about 100 KB, stays free
    kamailio.up = False
    with transaction.atomic():
        for number in range(200):
            domain_create(
                actor=None, name=f"d{number}.example.test", aliases=[f"sip.d{number}.test"]
            )
    copy = memory.tables_size_estimate()
    kamailio.shm_free = int(copy * 0.25 + MIB // 10 + copy * 0.5)
    kamailio.up = True
    # Kamailio was up before serweb's first reload: the new copy goes beside the old.
    assert reload.proxy_reload(kam1.pk).status == reload.Status.NO_ROOM
    assert kamailio.reloads == 0 and fresh(kam1).last_error.startswith("shared memory")

    # After a reload since its start, the next one refills the copy it frees first.
    Proxy.objects.filter(pk=kam1.pk).update(last_reload_at=timezone.now())
    assert reload.proxy_reload(kam1.pk).status == reload.Status.APPLIED

    kamailio.started = time.monotonic()  # restarted: one copy again
    domain_create(actor=None, name="one-more.test")
    assert kamailio.reloads == 1
    assert proxy_status_list()[0].state == "no room"


def test_size_estimate_grows_with_names_and_attributes(transactional_db):
    empty = memory.tables_size_estimate()
    domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    with_names = memory.tables_size_estimate()
    domain_create(actor=None, name="beta.test", attributes={"realm": "realm.beta.test"})
    assert empty == 0 < with_names < memory.tables_size_estimate()


def test_a_refused_reload_is_recorded_and_not_retried(kamailio, kam1):
    kamailio.reload_error = transport.ProxyRpcError(400, "Reload of domain tables failed")
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert kam1.applied_generation == 0
    assert "400" in kam1.last_error
    [status] = proxy_status_list()
    assert status.state == "failing" and status.pending_dids == ["alpha.test"]


def test_a_proxy_that_still_serves_old_data_is_not_counted_live(kamailio, kam1):
    kamailio.load_tables = False
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert kamailio.reloads == 1
    assert kam1.applied_generation == 0
    assert "alpha.test is served as nothing, expected alpha.test" in kam1.last_error


def test_a_disabled_domain_is_probed_for_404(kamailio, kam1):
    domain = domain_create(actor=None, name="alpha.test")
    kamailio.load_tables = False
    domain_disable(actor=None, domain=domain)
    assert "served as alpha.test, expected nothing" in fresh(kam1).last_error
    kamailio.load_tables = True
    assert reload.proxy_reload(kam1.pk).status == reload.Status.APPLIED
    assert kamailio.served == {}


def test_a_name_served_under_another_did_is_caught(kamailio, kam1):
    kamailio.load_tables = False
    kamailio.served = {"alpha.test": "old-did.test"}
    domain_create(actor=None, name="alpha.test")
    assert "alpha.test is served as old-did.test, expected alpha.test" in fresh(kam1).last_error


def test_a_proxy_answering_without_the_did_is_judged_by_served_or_not(kamailio, kam1):
    kamailio.did_header = False
    domain = domain_create(actor=None, name="alpha.test")
    assert fresh(kam1).applied_generation == desired()
    kamailio.load_tables = False
    domain_disable(actor=None, domain=domain)
    assert "alpha.test is served as an unknown did, expected nothing" in fresh(kam1).last_error


def test_the_drift_check_repairs_a_proxy_with_stale_data(kamailio, kam1):
    domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    del kamailio.served["sip.alpha.test"]  # e.g. it reloaded from a lagging replica
    [report] = drift.drift_check()
    assert report.action == "repaired" and "sip.alpha.test" in report.detail
    assert kamailio.reloads == 2
    assert kamailio.served["sip.alpha.test"] == "alpha.test"
    assert fresh(kam1).applied_generation == desired()


def test_the_drift_check_leaves_a_healthy_proxy_alone(kamailio, kam1):
    domain_create(actor=None, name="alpha.test")
    assert [r.action for r in drift.drift_check()] == ["ok"]
    assert kamailio.reloads == 1


# --- status --------------------------------------------------------------------------------


def test_status_shows_what_is_live_and_what_is_pending(kamailio, kam1):
    domain_create(actor=None, name="alpha.test")
    kamailio.up = False
    domain_create(actor=None, name="beta.test")
    domain_create(actor=None, name="gamma.test")
    [status] = proxy_status_list()
    assert status.state == "failing"
    assert status.applied_generation == 1 and status.desired_generation == 3
    assert status.pending_dids == ["gamma.test", "beta.test"] and status.pending_count == 2
    assert "not running" in status.last_error
    assert status.as_dict()["last_reload_at"].endswith("+00:00")

    kamailio.up = True
    reload.proxy_reload(kam1.pk)
    [status] = proxy_status_list()
    assert status.state == "live" and status.pending_dids == [] and status.last_error == ""


# --- scheduling with a broker --------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """Record queued tasks instead of running them, as a broker would hold them."""
    calls: list[tuple] = []

    def apply_async(args=None, kwargs=None, countdown=None, **options):
        calls.append((tuple(args), countdown))

    monkeypatch.setattr(reload_proxy, "apply_async", apply_async)
    return calls


def test_one_task_is_queued_per_proxy_however_many_changes(kamailio, kam1, queued):
    for number in range(5):
        domain_create(actor=None, name=f"d{number}.test")
    assert queued == [((kam1.pk,), config().quiet)]
    assert fresh(kam1).reload_scheduled_at is not None


def test_a_lost_task_does_not_block_scheduling_forever(kamailio, kam1, queued):
    Proxy.objects.filter(pk=kam1.pk).update(reload_scheduled_at=timezone.now() - timedelta(hours=1))
    domain_create(actor=None, name="alpha.test")
    assert len(queued) == 1


def run_as_worker(proxy_id: int, retries: int = 0) -> None:
    reload_proxy.push_request(is_eager=False, retries=retries, id="t1", called_directly=False)
    try:
        reload_proxy.run(proxy_id)
    finally:
        reload_proxy.pop_request()


def test_a_worker_waits_for_the_changes_to_quiet_down(kamailio, kam1, queued, settings):
    settings.SERWEB_RELOAD_QUIET = 5
    domain_create(actor=None, name="alpha.test")
    queued.clear()
    run_as_worker(kam1.pk)
    assert kamailio.reloads == 0
    [(args, countdown)] = queued
    assert args == (kam1.pk,) and 0 < countdown <= 5


def test_a_worker_reloads_after_max_wait_even_if_changes_go_on(kamailio, kam1, queued, settings):
    settings.SERWEB_RELOAD_QUIET = 5
    settings.SERWEB_RELOAD_MAX_WAIT = 10
    domain_create(actor=None, name="alpha.test")
    Proxy.objects.filter(pk=kam1.pk).update(
        reload_scheduled_at=timezone.now() - timedelta(seconds=11)
    )
    run_as_worker(kam1.pk)
    assert kamailio.reloads == 1
    assert fresh(kam1).reload_scheduled_at is None


def test_a_worker_leaves_the_trailing_reload_to_a_task_that_waits_for_quiet(
    kamailio, kam1, queued, settings
):
    settings.SERWEB_RELOAD_QUIET = 5
    settings.SERWEB_RELOAD_MAX_WAIT = 10
    domain = domain_create(actor=None, name="alpha.test")
    # Max-wait is used up while changes keep coming: one arrives during the reload.
    Proxy.objects.filter(pk=kam1.pk).update(
        reload_scheduled_at=timezone.now() - timedelta(seconds=11)
    )
    kamailio.during_reload = lambda: domain_name_add(actor=None, domain=domain, name="late.test")
    queued.clear()
    run_as_worker(kam1.pk)
    assert kamailio.reloads == 1
    assert queued == [((kam1.pk,), 5)]  # the trailing reload, queued
    assert fresh(kam1).reload_scheduled_at is not None  # with a max-wait window from now

    queued.clear()
    run_as_worker(kam1.pk)
    assert kamailio.reloads == 1  # it waits for quiet again
    [(args, countdown)] = queued
    assert args == (kam1.pk,) and 4 < countdown <= 5

    ReloadState.objects.update(changed_at=timezone.now() - timedelta(seconds=6))
    run_as_worker(kam1.pk)
    assert kamailio.reloads == 2
    assert fresh(kam1).applied_generation == desired() and "late.test" in kamailio.served


def test_a_worker_retries_with_backoff_while_the_proxy_is_down(kamailio, kam1, queued):
    kamailio.up = False
    domain_create(actor=None, name="alpha.test")
    ReloadState.objects.update(changed_at=timezone.now() - timedelta(seconds=60))
    with pytest.raises(Retry):
        run_as_worker(kam1.pk)
    kam1 = fresh(kam1)
    assert kam1.failures == 1 and kam1.next_retry_at > timezone.now()
    assert kam1.reload_scheduled_at is not None  # later changes ride on the retry

    kamailio.up = True
    run_as_worker(kam1.pk, retries=1)
    kam1 = fresh(kam1)
    assert kam1.applied_generation == desired() and kam1.reload_scheduled_at is None


def test_retry_delay_grows_and_is_capped(kam1, settings):
    settings.SERWEB_RELOAD_RETRY_BASE = 1
    settings.SERWEB_RELOAD_RETRY_MAX = 30
    delays = []
    for failures in (1, 2, 3, 10):
        Proxy.objects.filter(pk=kam1.pk).update(failures=failures)
        delays.append(reload.retry_delay(kam1.pk))
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4
    assert 15 <= delays[3] <= 30


# --- the tasks, by name --------------------------------------------------------------------


def test_every_proxy_task_is_run_by_something(settings):
    app.loader.import_default_modules()  # every task module, as a worker imports them
    registered = {name for name in app.tasks if name.startswith(("proxies.", "domains.tasks."))}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    # Messages queued under the names of before the move to proxies/.
    forwarded = {"domains.tasks.reload_proxy", "domains.tasks.proxy_drift_check"}

    assert registered - scheduled - {reload.RELOAD_TASK} - forwarded == set()
    assert scheduled <= set(app.tasks)
    assert "proxies.tasks.proxy_drift_check" in scheduled


def test_tasks_queued_under_their_old_names_run_as_the_new_ones(kamailio, kam1):
    # A reload task is on its way (queued under the old name): the change rides on it.
    Proxy.objects.filter(pk=kam1.pk).update(reload_scheduled_at=timezone.now())
    domain_create(actor=None, name="alpha.test")
    assert kamailio.reloads == 0

    task_named("domains.tasks.reload_proxy").delay(kam1.pk)

    assert kamailio.reloads == 1
    assert fresh(kam1).applied_generation == desired() and kam1.reload_scheduled_at is None

    kamailio.served.clear()  # the proxy lost its data behind serweb's back
    task_named("domains.tasks.proxy_drift_check").delay()

    assert kamailio.reloads == 2 and "alpha.test" in kamailio.served


# --- manage.py proxy reload / status -------------------------------------------------------


def proxy_command(*args: str) -> str:
    out = StringIO()
    call_command("proxy", *args, stdout=out)
    return out.getvalue()


def test_proxy_reload_reloads_now_and_says_so(kamailio, kam1):
    domain_create(actor=None, name="alpha.test")
    assert proxy_command("reload") == f"kam1: reloaded, generation {desired()} live\n"
    assert kamailio.reloads == 2


def test_proxy_reload_pending_skips_proxies_that_are_up_to_date(kamailio, kam1):
    domain_create(actor=None, name="alpha.test")
    assert proxy_command("reload", "--pending") == ""
    assert kamailio.reloads == 1


def test_proxy_reload_of_a_proxy_that_is_down_fails(kamailio, kam1):
    kamailio.up = False
    with pytest.raises(CommandError, match="not reloaded: kam1"):
        proxy_command("reload", "kam1")
    with pytest.raises(CommandError, match="no proxy named"):
        proxy_command("reload", "nope")


def test_proxy_status_says_what_waits(kamailio, kam1):
    domain_create(actor=None, name="alpha.test")
    kamailio.up = False
    domain_create(actor=None, name="beta.test")
    text = proxy_command("status")
    assert text.startswith("kam1 (fifo /run/kamailio/rpc.fifo): failing, generation 1 of 2")
    assert "waiting: beta.test" in text and "not running" in text
    [row] = json.loads(proxy_command("status", "--json"))
    assert row["state"] == "failing" and row["pending_dids"] == ["beta.test"]

    kamailio.up = True
    text = proxy_command("status", "--check")
    assert text.splitlines()[0].startswith("check kam1: applied")
    assert "kam1 (fifo /run/kamailio/rpc.fifo): live, generation 2 of 2" in text


def test_proxy_add_takes_the_address_to_probe(transactional_db):
    proxy_command("add", "kam2", "--udp", "10.0.0.5:8090", "--sip", "10.0.0.5:5060")
    assert Proxy.objects.get(name="kam2").sip_address == "10.0.0.5:5060"
    with pytest.raises(CommandError, match="expected HOST:PORT"):
        proxy_command("add", "kam3", "--udp", "10.0.0.6:8090", "--sip", "10.0.0.6")


# --- attributes in htable (SERWEB_PROXY_ATTRIBUTES=htable) ---------------------------------


@pytest.fixture
def htable_calls(kamailio, monkeypatch, settings) -> list[str]:
    """Attributes in htable: the order of the reload RPCs, and a switch to fail one."""
    settings.SERWEB_PROXY_ATTRIBUTES = "htable"
    settings.SERWEB_PROXY_HTABLE = "domattrs"
    calls: list[str] = []
    htable_error: list[Exception] = []
    domain_reload = kamailio.domain_reload

    def fake_htable_reload(kind, address, table, *, timeout):
        calls.append(f"htable.reload {table}")
        if htable_error:
            raise htable_error[0]

    def fake_domain_reload(kind, address, *, timeout):
        calls.append("domain.reload")
        domain_reload(kind, address, timeout=timeout)

    monkeypatch.setattr(transport, "htable_reload", fake_htable_reload)
    monkeypatch.setattr(transport, "domain_reload", fake_domain_reload)
    kamailio.htable_error = htable_error
    return calls


def test_with_attributes_in_htable_the_hash_table_reloads_before_the_domains(
    htable_calls, kamailio, kam1
):
    domain_create(actor=None, name="alpha.test", attributes={"realm": "voip.alpha.test"})
    assert htable_calls == ["htable.reload domattrs", "domain.reload"]
    assert fresh(kam1).applied_generation == desired() == 1


def test_without_htable_only_the_domains_reload(kamailio, kam1, monkeypatch):
    sent = []
    monkeypatch.setattr(transport, "htable_reload", lambda *a, **k: sent.append(a))
    domain_create(actor=None, name="alpha.test", attributes={"realm": "voip.alpha.test"})
    assert sent == [] and kamailio.reloads == 1


def test_a_failed_htable_reload_is_recorded_and_the_domains_are_not_reloaded(
    htable_calls, kamailio, kam1
):
    kamailio.htable_error.append(transport.ProxyRpcError(500, "No such htable"))
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert htable_calls == ["htable.reload domattrs"]
    assert kam1.applied_generation == 0
    assert kam1.last_error == "htable.reload: error 500: No such htable"


def test_an_htable_reload_that_times_out_keeps_the_claim(htable_calls, kamailio, kam1):
    kamailio.htable_error.append(transport.ProxyTimeout("no reply from Kamailio in time"))
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert kam1.reloading_since is not None
    assert kam1.last_error.startswith("htable.reload: no reply")
