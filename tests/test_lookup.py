"""The proxy's on-demand lookup: GET /proxy/lookup?host=H."""

import statistics
import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse

from domains import services
from domains.dns import lookup
from domains.models import DomainName, DomainOrigin, DomainState, DomainTransition, NameCheck
from domains.signals import domains_changed
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings
silent_port = dns_harness.silent_port

URL = "/proxy/lookup"


@pytest.fixture(autouse=True)
def fresh_caches(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the DNS slots of this test alone
    lookup.forget_cached_answers()
    cache.clear()
    yield
    lookup.forget_cached_answers()
    cache.clear()


@pytest.fixture
def learning(db, dns_settings):
    dns_settings.SERWEB_DNS_AUTO_LEARN = True
    return dns_settings


@pytest.fixture
def served(db, alice):
    return services.domain_create(
        actor=alice, name="served.example.com", aliases=["sip.served.example.com"]
    )


def ask(client, host: str):
    return client.get(URL, {"host": host})


def test_the_url_is_stable():
    assert reverse("proxy-lookup") == URL


def test_a_known_host_is_ours_with_its_did_and_canonical_name(client, served):
    response = ask(client, "SIP.Served.Example.com.")

    assert response.status_code == 200
    assert response.json() == {
        "host": "sip.served.example.com",
        "ours": True,
        "did": "served.example.com",
        "canonical": "served.example.com",
        "state": "active",
        "source": "database",
    }
    # The next answer comes from the process cache.
    assert ask(client, "SIP.Served.Example.com.").json()["source"] == "cache"


def test_a_known_host_that_is_not_served_is_not_ours(client, served, alice):
    services.domain_disable(actor=alice, domain=served)

    response = ask(client, "served.example.com")

    assert response.status_code == 404
    assert response.json()["reason"] == "disabled by the operator"
    assert response.json()["ours"] is False


@pytest.mark.parametrize(("state", "ours"), [("suspect", True), ("disabled", False)])
def test_a_name_disabled_by_housekeeping_is_not_ours_while_its_domain_is(
    client, served, state, ours
):
    NameCheck.objects.create(
        name=DomainName.objects.get(name="sip.served.example.com"), state=state
    )

    alias = ask(client, "sip.served.example.com")

    assert (alias.status_code, alias.json()["ours"]) == (200 if ours else 404, ours)
    if not ours:
        assert alias.json()["reason"] == "this name is not served (disabled)"
    assert ask(client, "served.example.com").status_code == 200


def test_a_suspect_domain_is_still_ours(client, served, alice):
    services.domain_set_state(actor=alice, domain=served, state=DomainState.SUSPECT)

    assert ask(client, "served.example.com").status_code == 200


def test_known_hosts_are_answered_in_well_under_a_millisecond(served, settings):
    settings.SERWEB_LOOKUP_CACHE_SECONDS = 60
    factory = RequestFactory()
    request = factory.get(URL, {"host": "sip.served.example.com"})
    assert lookup.lookup_view(request).status_code == 200
    timings = []
    for _ in range(500):
        started = time.perf_counter()
        response = lookup.lookup_view(request)
        timings.append(time.perf_counter() - started)
    assert response.status_code == 200
    assert statistics.median(timings) < 0.0002


def test_a_bad_host_is_a_bad_request(client, db):
    response = ask(client, "bad_label..example")

    assert response.status_code == 400
    assert "empty label" in response.json()["error"]


def test_only_allowed_clients_may_ask(client, settings, served):
    settings.SERWEB_LOOKUP_CLIENTS = ["10.0.0.0/8"]

    assert ask(client, "served.example.com").status_code == 403
    assert (
        client.get(URL, {"host": "served.example.com"}, REMOTE_ADDR="10.1.2.3").status_code == 200
    )


def test_only_get_is_allowed(client, served):
    assert client.post(URL, {"host": "served.example.com"}).status_code == 405


def test_an_unknown_host_without_auto_learning_asks_no_dns(client, db, dns_settings, knot):
    name = knot.unique("u")
    knot.srv(name, PROXY_HOSTNAMES[0])

    response = ask(client, name)

    assert response.status_code == 404
    assert response.json()["reason"] == "unknown host"


def test_auto_learning_creates_the_domain_reloads_and_answers_yes(client, learning, knot):
    name = knot.unique("u")
    knot.srv(name, PROXY_HOSTNAMES[0])
    changed: list[str] = []
    domains_changed.connect(
        lambda sender, dids, **kw: changed.extend(dids), weak=False, dispatch_uid="t"
    )
    try:
        response = ask(client, name)
    finally:
        domains_changed.disconnect(dispatch_uid="t")

    assert response.status_code == 200
    body = response.json()
    assert (body["did"], body["source"], body["learned"]) == (name, "dns", True)
    domain = lookup.DomainName.objects.get(name=name).domain
    assert (domain.origin, domain.state) == (DomainOrigin.DNS, DomainState.ACTIVE)
    assert DomainTransition.objects.get(domain=domain, name="").evidence["verdict"] == "ours"
    assert name in changed


def test_a_foreign_host_is_asked_once_per_negative_ttl(client, learning, knot, monkeypatch):
    name = knot.unique("u")
    knot.srv(name, f"sip.{name}")
    knot.add(f"sip.{name}", "A", "198.51.100.3")
    calls = []
    real_learn = lookup.domain_learn
    monkeypatch.setattr(lookup, "domain_learn", lambda **kw: calls.append(kw) or real_learn(**kw))

    first = ask(client, name)
    second = ask(client, name)

    assert first.status_code == second.status_code == 404
    assert first.json()["reason"].startswith("DNS: foreign")
    assert second.json()["source"] == "negative-cache"
    assert len(calls) == 1


def test_a_not_ours_answer_tells_the_proxy_how_long_to_remember_it(
    client, learning, knot, monkeypatch
):
    learning.SERWEB_LOOKUP_NEGATIVE_TTL = 120
    name = knot.unique("u")
    checked = ask(client, name).json()
    assert (checked["source"], checked["ttl"]) == ("dns", 120)

    # From serweb's own cache: what is left of it, never more.
    later = time.time() + 50
    monkeypatch.setattr(lookup.time, "time", lambda: later)
    remembered = ask(client, name).json()
    assert (remembered["source"], remembered["ttl"]) == ("negative-cache", 70)


def test_without_auto_learning_an_unknown_host_is_remembered_for_the_negative_ttl(
    client, db, settings
):
    settings.SERWEB_LOOKUP_NEGATIVE_TTL = 45

    answer = ask(client, "unknown.example.org")

    assert answer.status_code == 404
    assert answer.json() == {
        "host": "unknown.example.org",
        "ours": False,
        "reason": "unknown host",
        "source": "database",
        "ttl": 45,
    }


def test_a_name_being_checked_or_rate_limited_is_nothing_to_remember(client, learning, knot):
    name = knot.unique("u")
    lookup.cache.set(f"serweb:lookup:negative:{name}", (lookup.CHECKING_REASON, time.time() + 60))
    assert "ttl" not in ask(client, name).json()

    learning.SERWEB_LOOKUP_DNS_PER_MINUTE = 0
    limited = ask(client, knot.unique("u")).json()
    assert limited["reason"] == "rate-limited" and "ttl" not in limited


def test_random_names_are_rate_limited_overall(client, learning, knot):
    learning.SERWEB_LOOKUP_DNS_PER_MINUTE = 3
    answers = [ask(client, knot.unique("random")).status_code for _ in range(5)]

    assert answers == [404, 404, 404, 503, 503]
    limited = ask(client, knot.unique("random"))
    assert limited.json()["reason"] == "rate-limited"
    assert limited["Retry-After"] == "60"


@pytest.mark.parametrize("name", ["printer.local", "sip.operator.test"])
def test_reserved_names_are_never_learnt(client, learning, name):
    response = ask(client, name)

    assert response.status_code == 404
    assert "never served" in response.json()["reason"]


def test_a_name_under_a_tenants_domain_is_never_learnt(client, learning, knot, alice, bob):
    parent = knot.unique("t")
    services.domain_create(actor=alice, name=parent, tenant=bob.tenant)
    knot.srv(f"sip.{parent}", PROXY_HOSTNAMES[0])

    response = ask(client, f"sip.{parent}")

    assert response.status_code == 404
    assert "another tenant" in response.json()["reason"]


def test_a_dns_failure_is_an_unknown_not_a_no(client, learning, silent_port):
    learning.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]

    response = ask(client, "quiet.example.org")

    assert response.status_code == 503
    assert response.json()["reason"] == "dns-unknown"
    # The proxy too may ask again only after a while: a minute, not a negative TTL.
    assert response.json()["ttl"] == 60
    assert ask(client, "quiet.example.org").json()["source"] == "negative-cache"


# --- a DNS server that does not answer -------------------------------------------------------


@pytest.fixture
def silent_dns(learning, silent_port):
    """Auto-learning against a server that never answers, with the production tries."""
    learning.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]
    learning.SERWEB_DNS_TIMEOUT_MS = 2000
    learning.SERWEB_DNS_LIFETIME_MS = 5000
    learning.SERWEB_LOOKUP_DNS_MS = 500
    return learning


def timed_lookup(host: str) -> tuple[float, lookup.LookupAnswer]:
    started = time.monotonic()
    answer = lookup.lookup_host(host)
    return time.monotonic() - started, answer


def test_a_silent_dns_server_holds_a_lookup_for_the_lookups_time_only(silent_dns):
    took, answer = timed_lookup("quiet.example.org")

    assert (answer.status, answer.reason, answer.retry_after) == (503, "dns-unknown", 60)
    assert 0.5 <= took < 0.9, f"answered after {took:.2f} s"


def test_while_a_dns_check_runs_other_unknown_hosts_are_told_to_ask_later(
    transactional_db, silent_dns
):
    first: list = []

    def ask_first() -> None:
        try:
            first.append(timed_lookup("first.example.org"))
        finally:
            connection.close()

    asking = threading.Thread(target=ask_first)
    asking.start()
    time.sleep(0.2)  # the first check is waiting for DNS
    took, answer = timed_lookup("second.example.org")
    asking.join()

    assert (answer.status, answer.reason, answer.retry_after) == (503, "rate-limited", 1)
    assert took < 0.1, f"answered after {took:.2f} s"
    # Not remembered: asked in DNS once a slot is free.
    assert cache.get("serweb:lookup:negative:second.example.org") is None
    [(_took, answered)] = first
    assert answered.reason == "dns-unknown"


def test_after_an_unanswered_check_dns_rests_as_long_before_the_next(silent_dns):
    took, first = timed_lookup("first.example.org")
    assert first.reason == "dns-unknown"

    resting = lookup.lookup_host("second.example.org")
    time.sleep(took)
    checked = lookup.lookup_host("second.example.org")

    assert (resting.status, resting.reason) == (503, "rate-limited")
    assert (checked.status, checked.reason) == (503, "dns-unknown")
