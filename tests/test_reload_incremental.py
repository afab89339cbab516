"""The htable index mode (SERWEB_PROXY_DOMAINS=htable) against a stand-in proxy: each
committed change is logged with the change and sent as the keys it touched, and a full
htable.reload is the fallback.

The stand-in holds the two hash tables, loads them from the proxy-facing relations on
htable.reload as Kamailio's htable module does, takes htable.sets/seti/delete, and answers
probes from its table of names. Changes go through the services and commit for real;
tasks run eagerly, as without a broker.
"""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from domains.bulk import import_domains
from domains.services import (
    domain_attribute_set,
    domain_attribute_unset,
    domain_create,
    domain_delete,
    domain_disable,
    domain_enable,
    domain_name_add,
    domain_name_remove,
)
from proxies import drift, incremental, index_log, receivers, reload, sip_probe, transport
from proxies.generation import desired_generation
from proxies.models import IndexEntry, Proxy
from subscribers.services import subscriber_create
from tests.helpers import in_parallel, proxy_rows

MIB = 1024 * 1024
NAMES, ATTRS = "domnames", "domattrs"


class FakeHtableKamailio:
    def __init__(self):
        self.up = True
        self.tables: dict[str, dict[str, str | int]] = {NAMES: {}, ATTRS: {}}
        self.calls: list[str] = []
        self.fail_on: dict[str, Exception] = {}  # RPC name -> the error it raises once
        self.started = time.monotonic() - 3600
        self.shm_total = 64 * MIB
        self.shm_free = 60 * MIB
        self.ignore_sets = False

    def _rpc(self, method: str) -> None:
        if not self.up:
            raise transport.ProxyUnreachable("nobody reads the FIFO: Kamailio is not running")
        self.calls.append(method)
        if method in self.fail_on:
            raise self.fail_on.pop(method)

    def htable_reload(self, kind, address, table, *, timeout):
        self._rpc("htable.reload")
        if table == NAMES:
            self.tables[NAMES] = dict(proxy_rows("domain_names_htable", "key_name, key_value"))
        else:
            rows = proxy_rows("domain_attrs_htable", "key_name, value_type, key_value")
            self.tables[ATTRS] = {k: int(v) if t == 1 else v for k, t, v in rows}

    def htable_set(self, kind, address, table, key, value, *, is_int, timeout):
        self._rpc("htable.seti" if is_int else "htable.sets")
        if not self.ignore_sets:
            self.tables[table][key] = int(value) if is_int else value

    def htable_delete(self, kind, address, table, key, *, timeout):
        self._rpc("htable.delete")
        return self.tables[table].pop(key, None) is not None

    def htable_slots(self, kind, address, table, *, timeout):
        self._rpc("htable.listTables")
        return 65536

    def shm_stats(self, kind, address, *, timeout):
        self._rpc("core.shmmem")
        used = self.shm_total - self.shm_free
        return transport.ShmStats(self.shm_total, self.shm_free, used, used)

    def uptime_seconds(self, kind, address, *, timeout):
        self._rpc("core.uptime")
        return time.monotonic() - self.started

    def domain_reload(self, kind, address, *, timeout):
        raise AssertionError("the htable index mode has no domain module to reload")

    def sip_options(self, address, name, *, timeout):
        if name in self.tables[NAMES]:
            return sip_probe.SipAnswer(200, "OK", {"x-serweb-did": self.tables[NAMES][name]})
        return sip_probe.SipAnswer(404, "Not Here", {})

    def full_reloads(self) -> int:
        return self.calls.count("htable.reload") // 2

    def sent(self) -> list[str]:
        """The incremental RPCs since the last look."""
        sent = [c for c in self.calls if c.startswith(("htable.set", "htable.delete"))]
        self.calls.clear()
        return sent


@pytest.fixture
def kamailio(monkeypatch, settings) -> FakeHtableKamailio:
    settings.SERWEB_PROXY_DOMAINS = "htable"
    fake = FakeHtableKamailio()
    for name in (
        "htable_reload",
        "htable_set",
        "htable_delete",
        "htable_slots",
        "shm_stats",
        "uptime_seconds",
        "domain_reload",
    ):
        monkeypatch.setattr(transport, name, getattr(fake, name))
    monkeypatch.setattr(sip_probe, "options", fake.sip_options)
    return fake


@pytest.fixture
def kam1(kamailio, transactional_db) -> Proxy:
    proxy = Proxy.objects.create(
        name="kam1", transport="fifo", address="/run/kamailio/rpc.fifo", sip_address="127.0.0.1:1"
    )
    assert reload.proxy_reload(proxy.pk).status == reload.Status.CURRENT
    assert reload.proxy_reload(proxy.pk, force=True).status == reload.Status.APPLIED
    kamailio.calls.clear()
    return fresh(proxy)


def fresh(proxy: Proxy) -> Proxy:
    proxy.refresh_from_db()
    return proxy


def served() -> dict[str, str]:
    return dict(proxy_rows("domain", "domain, did"))


def attributes() -> dict[str, str | int]:
    rows = proxy_rows("domain_attrs", "did, name, type, value")
    return {f"{did}:{name}": int(value) if kind == 0 else value for did, name, kind, value in rows}


def assert_in_step(kamailio: FakeHtableKamailio, proxy: Proxy) -> None:
    """The proxy holds what the relations say, and serweb knows it."""
    assert kamailio.tables[NAMES] == served()
    assert kamailio.tables[ATTRS] == attributes()
    proxy = fresh(proxy)
    assert proxy.applied_generation == desired_generation() and not proxy.full_reload_due


# --- only what changed ---------------------------------------------------------------------


def test_a_new_domain_is_sent_as_its_keys_without_a_full_reload(kamailio, kam1):
    domain_create(
        actor=None, name="alpha.test", aliases=["sip.alpha.test"], attributes={"max_contacts": "3"}
    )
    # The attribute first, then the names; an integer as an integer.
    assert kamailio.sent() == ["htable.seti", "htable.sets", "htable.sets"]
    assert kamailio.tables[ATTRS] == {"alpha.test:max_contacts": 3}
    assert kamailio.full_reloads() == 0
    assert_in_step(kamailio, kam1)
    assert (kam1.update_count, kam1.reload_count) == (1, 1)
    assert kam1.last_verified_at is not None


def test_every_kind_of_change_is_sent_as_the_keys_it_touched(kamailio, kam1):
    alpha = domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    beta = domain_create(actor=None, name="beta.test", attributes={"realm": "r.beta.test"})
    kamailio.sent()

    domain_name_add(actor=None, domain=alpha, name="192.0.2.1")
    assert kamailio.sent() == ["htable.sets"]
    domain_name_remove(actor=None, domain=alpha, name="sip.alpha.test")
    assert kamailio.sent() == ["htable.delete"]
    domain_attribute_set(actor=None, domain=alpha, name="max_contacts", value="5")
    assert kamailio.sent() == ["htable.seti"]
    domain_attribute_unset(actor=None, domain=alpha, name="max_contacts")
    assert kamailio.sent() == ["htable.delete"]
    # Disabled: names first, then the attributes; enabled: the other way round.
    domain_disable(actor=None, domain=beta)
    assert kamailio.sent() == ["htable.delete", "htable.delete"]
    assert "beta.test" not in kamailio.tables[NAMES]
    domain_enable(actor=None, domain=beta)
    assert kamailio.sent() == ["htable.sets", "htable.sets"]
    domain_delete(actor=None, domain=alpha)
    assert kamailio.sent() == ["htable.delete", "htable.delete"]
    assert kamailio.full_reloads() == 0
    assert_in_step(kamailio, kam1)


def test_a_name_moved_to_another_domain_is_one_set(kamailio, kam1):
    alpha = domain_create(actor=None, name="alpha.test", aliases=["shared.test"])
    beta = domain_create(actor=None, name="beta.test")
    kamailio.sent()
    with transaction.atomic():
        domain_name_remove(actor=None, domain=alpha, name="shared.test")
        domain_name_add(actor=None, domain=beta, name="shared.test")
    # Never served by neither: the key's value changes in one step.
    assert kamailio.sent() == ["htable.sets"]
    assert kamailio.tables[NAMES]["shared.test"] == "beta.test"
    assert_in_step(kamailio, kam1)


def test_a_change_nothing_cached_depends_on_sends_nothing(kamailio, kam1):
    domain = domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    kamailio.sent()
    generation = desired_generation()
    subscriber_create(actor=None, domain=domain, username="carol", password="carol-secret")
    assert desired_generation() == generation and kamailio.calls == []
    from domains.services import domain_make_canonical

    domain_make_canonical(actor=None, domain=domain, name="sip.alpha.test")
    # A generation (the did stays), and no key to send.
    assert desired_generation() == generation + 1 and kamailio.sent() == []
    assert_in_step(kamailio, kam1)


def test_a_proxy_that_was_down_gets_each_key_once_with_its_value_now(kamailio, kam1):
    kamailio.up = False
    domain = domain_create(actor=None, name="alpha.test", aliases=["a.test", "b.test"])
    domain_name_remove(actor=None, domain=domain, name="a.test")
    domain_name_add(actor=None, domain=domain, name="a.test")
    domain_name_remove(actor=None, domain=domain, name="b.test")
    assert fresh(kam1).failures == 1 and not kam1.full_reload_due

    kamailio.up = True
    assert reload.proxy_reload(kam1.pk).status == reload.Status.APPLIED
    # b.test never reached it: its delete is one the proxy takes as done.
    assert sorted(kamailio.sent()) == ["htable.delete", "htable.sets", "htable.sets"]
    assert kamailio.full_reloads() == 0
    assert_in_step(kamailio, kam1)


def test_a_crash_between_commit_and_send_loses_nothing(kamailio, kam1, monkeypatch):
    # The process dies after the commit, before its after-commit hook sends anything.
    with monkeypatch.context() as crashed:
        crashed.setattr(receivers, "_after_commit", lambda: None)
        domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    assert kamailio.calls == [] and fresh(kam1).applied_generation < desired_generation()

    # Another process: cron's proxy reload --pending, the drift check, the next change.
    out = StringIO()
    call_command("proxy", "reload", "--pending", stdout=out)
    assert out.getvalue() == f"kam1: reloaded, generation {desired_generation()} live\n"
    assert kamailio.sent() == ["htable.sets", "htable.sets"]
    assert kamailio.full_reloads() == 0
    assert_in_step(kamailio, kam1)


@pytest.mark.postgres  # SQLite runs one writing transaction at a time
def test_two_changes_at_once_both_reach_the_proxy(kamailio, kam1):
    names = ["one.test", "two.test"]
    results = in_parallel(2, lambda i: domain_create(actor=None, name=names[i]).did)
    assert results == names
    # Whichever held the claim second, or the trailing catch-up, sent the other.
    assert kamailio.full_reloads() == 0
    assert_in_step(kamailio, kam1)


# --- full reloads instead ------------------------------------------------------------------


def test_more_changed_keys_than_the_threshold_get_a_full_reload(kamailio, kam1, settings):
    settings.SERWEB_PROXY_INCREMENTAL_MAX = 3
    with transaction.atomic():
        for number in range(4):
            domain_create(actor=None, name=f"d{number}.test")
    assert kamailio.full_reloads() == 1 and kamailio.sent() == []
    domain_create(actor=None, name="small.test")
    assert kamailio.sent() == ["htable.sets"]
    assert_in_step(kamailio, kam1)


def test_a_restarted_proxy_gets_a_full_reload(kamailio, kam1):
    domain_create(actor=None, name="alpha.test")
    kamailio.sent()
    kamailio.started = time.monotonic()  # its uptime went back
    kamailio.tables = {NAMES: dict(served()), ATTRS: {}}  # loaded at its start
    domain_create(actor=None, name="beta.test")
    assert kamailio.full_reloads() == 1 and kamailio.sent() == []
    assert_in_step(kamailio, kam1)
    domain_create(actor=None, name="gamma.test")
    assert kamailio.sent() == ["htable.sets"]


def test_an_rpc_error_falls_back_to_a_full_reload_at_once(kamailio, kam1):
    kamailio.fail_on["htable.sets"] = transport.ProxyRpcError(500, "No such htable")
    domain_create(actor=None, name="alpha.test")
    assert kamailio.full_reloads() == 1
    kam1 = fresh(kam1)
    assert "No such htable" in kam1.last_error
    assert_in_step(kamailio, kam1)
    assert reload_status(kam1) == "live"


def test_an_update_cut_short_is_followed_by_a_full_reload(kamailio, kam1):
    kamailio.fail_on["htable.sets"] = transport.ProxyTimeout("no reply from Kamailio in time")
    domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    kam1 = fresh(kam1)
    assert kam1.full_reload_due and kam1.applied_generation == 0 and kam1.failures == 1
    assert kam1.reloading_since is None and "no reply" in kam1.last_error
    assert reload.proxy_reload(kam1.pk).status == reload.Status.APPLIED
    assert kamailio.full_reloads() == 1
    assert_in_step(kamailio, kam1)


def test_wrong_answers_after_an_update_get_a_full_reload(kamailio, kam1):
    kamailio.ignore_sets = True
    domain_create(actor=None, name="alpha.test")
    assert kamailio.full_reloads() == 1
    assert "alpha.test is served as nothing" in fresh(kam1).last_error
    assert_in_step(kamailio, kam1)


def test_the_drift_check_repairs_with_a_full_reload(kamailio, kam1):
    domain_create(actor=None, name="alpha.test", aliases=["sip.alpha.test"])
    del kamailio.tables[NAMES]["sip.alpha.test"]
    kamailio.tables[NAMES]["stray.test"] = "alpha.test"
    [report] = drift.drift_check(reload_now=True)
    assert report.action == "repaired"
    # The stray name only a full reload removes.
    assert kamailio.full_reloads() == 1 and "stray.test" not in kamailio.tables[NAMES]
    assert_in_step(kamailio, kam1)


def test_no_update_without_room_for_the_new_items(kamailio, kam1):
    kamailio.shm_total, kamailio.shm_free = 8 * MIB, MIB // 2
    domain_create(actor=None, name="alpha.test")
    kam1 = fresh(kam1)
    assert kamailio.sent() == [] and kam1.last_error.startswith("shared memory")
    assert reload_status(kam1) == "no room"


def reload_status(proxy: Proxy) -> str:
    from proxies.status import proxy_status_list

    return next(s.state for s in proxy_status_list() if s.name == proxy.name)


# --- the log -------------------------------------------------------------------------------


def test_changes_made_without_the_log_are_caught_up_by_a_rebuild(kamailio, kam1, settings):
    settings.SERWEB_PROXY_DOMAINS = "domain"  # a process that does not keep the log
    Proxy.objects.filter(pk=kam1.pk).update(enabled=False)
    alpha = domain_create(actor=None, name="alpha.test", aliases=["gone.test"])
    domain_name_remove(actor=None, domain=alpha, name="gone.test")
    Proxy.objects.filter(pk=kam1.pk).update(enabled=True)
    settings.SERWEB_PROXY_DOMAINS = "htable"
    assert not index_log.log_is_complete()

    domain_create(actor=None, name="beta.test")
    # The log was rebuilt; the proxy, older than it, got a full reload.
    assert index_log.log_is_complete() and index_log.log_floor() == desired_generation()
    assert kamailio.full_reloads() == 1
    assert_in_step(kamailio, kam1)
    domain_create(actor=None, name="gamma.test")
    assert kamailio.sent() == ["htable.sets"]


def test_a_bulk_import_is_logged_in_one_comparison(kamailio, kam1, monkeypatch):
    monkeypatch.setattr(index_log, "_BY_DID_MAX", 2)  # more domains than that: all keys
    rows = [{"name": f"bulk{n}.test", "aliases": f"sip.bulk{n}.test"} for n in range(5)]
    import_domains(actor=None, rows=rows)
    assert kamailio.sent() == ["htable.sets"] * 10
    assert_in_step(kamailio, kam1)


def test_deletions_are_forgotten_once_every_proxy_has_them(kamailio, kam1):
    other = Proxy.objects.create(name="kam2", transport="udp", address="127.0.0.1:9")
    assert reload.proxy_reload(other.pk, force=True).status == reload.Status.APPLIED
    # kam2 failed a moment ago and waits for its backoff: it stays behind.
    Proxy.objects.filter(pk=other.pk).update(next_retry_at=timezone.now() + timedelta(hours=1))
    domain = domain_create(actor=None, name="alpha.test", aliases=["gone.test"])
    domain_name_remove(actor=None, domain=domain, name="gone.test")
    domain_create(actor=None, name="beta.test")
    assert fresh(kam1).applied_generation == desired_generation() > fresh(other).applied_generation
    assert IndexEntry.objects.filter(value__isnull=True).count() == 1

    Proxy.objects.filter(pk=other.pk).update(enabled=False)
    domain_create(actor=None, name="gamma.test")
    assert IndexEntry.objects.filter(value__isnull=True).count() == 1
    drift.drift_check()
    # Every enabled proxy has passed it: gone, and the floor moved up.
    assert not IndexEntry.objects.filter(value__isnull=True).exists()
    assert index_log.log_floor() == fresh(kam1).applied_generation
    # kam2, enabled again below the floor, gets a full reload.
    Proxy.objects.filter(pk=other.pk).update(enabled=True)
    kamailio.calls.clear()
    assert reload.proxy_reload(other.pk).status == reload.Status.APPLIED
    assert kamailio.full_reloads() == 1


def test_an_incremental_update_does_not_wait_for_quiet(kamailio, kam1, settings):
    settings.SERWEB_RELOAD_QUIET = 5
    Proxy.objects.filter(pk=kam1.pk).update(enabled=False)
    domain_create(actor=None, name="alpha.test")
    Proxy.objects.filter(pk=kam1.pk).update(enabled=True, reload_scheduled_at=None)
    assert incremental.goes_out_at_once(kam1.pk)
    assert reload.reload_debounce(kam1.pk) == 0.0

    settings.SERWEB_PROXY_INCREMENTAL_MAX = 0  # a full reload is due: it waits
    Proxy.objects.filter(pk=kam1.pk).update(reload_scheduled_at=fresh(kam1).created_at)
    assert not incremental.goes_out_at_once(kam1.pk)
    assert reload.reload_debounce(kam1.pk) > 4
