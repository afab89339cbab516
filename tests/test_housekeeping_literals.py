"""IP literal names checked against the configured proxy addresses (SERWEB_PROXY_ADDRESSES):
no DNS question, no grace. A literal no longer ours is reported and leaves the proxy's
relations while its domain stays served; it is served again as soon as it is ours again;
an exempt one is served whatever; the circuit breaker counts literals too."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from audit.models import AuditEntry
from domains import services
from domains.dns import lookup
from domains.dns.housekeeping import housekeeping_run
from domains.dns.lifecycle import decide_literal
from domains.dns.name_controls import name_exempt_set
from domains.dns.observation import Outcome, observe_literal
from domains.dns.policy import DnsPolicy
from domains.dns.sip import ProxyIdentity, Verdict
from domains.models import DomainState, DomainTransition, HousekeepingRun, NameCheck, NameState
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES
from tests.helpers import proxy_rows

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

OURS = ProxyIdentity.build([], ["192.0.2.10", "2001:db8::10"])


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("192.0.2.10", Verdict.OURS),
        ("[2001:db8::10]", Verdict.OURS),
        ("[2001:0db8:0:0::10]", Verdict.OURS),
        ("192.0.2.99", Verdict.FOREIGN),
        ("[2001:db8::99]", Verdict.FOREIGN),
    ],
)
def test_a_literal_is_ours_when_it_is_a_configured_proxy_address(name, verdict):
    seen = observe_literal(name, OURS)

    assert (seen.sip.verdict, seen.queries) == (verdict, 0)


def test_without_configured_addresses_a_literal_concludes_nothing():
    seen = observe_literal("192.0.2.10", ProxyIdentity.build(["proxy.example"], []))
    policy = DnsPolicy.from_settings()

    assert seen.outcome(policy) == Outcome.UNKNOWN
    assert "SERWEB_PROXY_ADDRESSES" in seen.reason
    assert decide_literal(state=NameState.ACTIVE, outcome=Outcome.UNKNOWN).to_state is None


@pytest.mark.parametrize(
    ("state", "outcome", "to_state"),
    [
        (NameState.ACTIVE, Outcome.NEGATIVE, NameState.DISABLED),  # no suspect spell
        (NameState.DISABLED, Outcome.NEGATIVE, None),  # and never removed
        (NameState.DISABLED, Outcome.POSITIVE, NameState.ACTIVE),
        (NameState.ACTIVE, Outcome.POSITIVE, None),
    ],
)
def test_a_literal_moves_at_once(state, outcome, to_state):
    assert decide_literal(state=state, outcome=outcome).to_state == to_state


@pytest.fixture
def literal_domain(knot, dns_settings, alice):
    """A domain pointing at us, with two IP literals of our proxy addresses."""
    name = knot.unique("lit")
    knot.srv(name, PROXY_HOSTNAMES[0])
    return services.domain_create(actor=alice, name=name, aliases=["192.0.2.11", "[2001:db8::10]"])


def run(slot: int = 0, slots: int = 1, at=None) -> HousekeepingRun:
    done = housekeeping_run(slot=slot, slots=slots, now=at or timezone.now())
    assert done is not None
    return done


def state(name: str) -> str:
    check = NameCheck.objects.filter(name__name=name).first()
    return check.state if check is not None else NameState.ACTIVE


def ask_lookup(client, host: str):
    """The proxies' on-demand lookup, without the answers it keeps."""
    lookup.forget_cached_answers()
    cache.clear()
    return client.get("/proxy/lookup", {"host": host})


def test_a_literal_no_longer_ours_leaves_the_proxy_relations_and_comes_back(
    literal_domain, dns_settings, client
):
    did = literal_domain.did
    first = run()
    assert first.checked == 3 and first.queries > 0
    assert first.summary["name_transitions"] == {}
    assert {state(n) for n in ("192.0.2.11", "[2001:db8::10]")} == {NameState.ACTIVE}
    assert NameCheck.objects.get(name__name="192.0.2.11").verdict == "ours"

    # The proxy at 192.0.2.11 is gone: its address is no longer ours.
    dns_settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10", "2001:db8::10"]
    moved = run()

    assert moved.summary["name_transitions"] == {"active->disabled": 1}
    assert state("192.0.2.11") == NameState.DISABLED
    assert proxy_rows("domain", "domain, did") == [("[2001:db8::10]", did), (did, did)]
    assert proxy_rows("domain_names_htable", "key_name") == [("[2001:db8::10]",), (did,)]
    answer = ask_lookup(client, "192.0.2.11")
    assert (answer.status_code, answer.json()["reason"]) == (
        404,
        "this name is not served (disabled)",
    )
    literal_domain.refresh_from_db()
    assert (literal_domain.state, literal_domain.is_served) == (DomainState.ACTIVE, True)
    check = NameCheck.objects.get(name__name="192.0.2.11")
    assert (check.verdict, check.reason) == (
        "foreign",
        "192.0.2.11 is not one of the proxy addresses",
    )
    transition = DomainTransition.objects.get(name="192.0.2.11")
    assert (transition.from_state, transition.to_state, transition.verdict) == (
        "active",
        "disabled",
        "foreign",
    )
    entry = AuditEntry.objects.get(action="domain.name_disabled")
    assert (entry.after["name"], entry.after["verdict"]) == ("192.0.2.11", "foreign")

    # Later runs leave it disabled: a literal is never removed.
    run(at=timezone.now() + timedelta(days=40))
    assert state("192.0.2.11") == NameState.DISABLED

    # Ours again: served again by the next run, with no grace.
    dns_settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10", "192.0.2.11", "2001:db8::10"]
    back = run()
    assert back.summary["name_transitions"] == {"disabled->active": 1}
    assert state("192.0.2.11") == NameState.ACTIVE
    assert ("192.0.2.11", did) in proxy_rows("domain", "domain, did")
    assert ask_lookup(client, "192.0.2.11").json()["did"] == did


def test_a_disabled_literal_is_checked_by_every_run_whatever_its_slot(literal_domain, dns_settings):
    slots = 4
    own = literal_domain.pk % slots
    other = (own + 1) % slots
    dns_settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10"]
    run(own, slots)
    assert (state("192.0.2.11"), state("[2001:db8::10]")) == ("disabled", "disabled")

    dns_settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10", "192.0.2.11"]
    another = run(other, slots)

    # The other slot's run asks no DNS question of this domain, yet serves the literal.
    assert another.summary["domains"] == 0
    assert another.summary["name_transitions"] == {"disabled->active": 1}
    assert (state("192.0.2.11"), state("[2001:db8::10]")) == ("active", "disabled")


def test_without_configured_addresses_no_literal_changes(literal_domain, dns_settings):
    dns_settings.SERWEB_PROXY_ADDRESSES = []

    done = run()

    assert done.status == HousekeepingRun.Status.COMPLETED
    assert done.summary["name_transitions"] == {}
    assert {state("192.0.2.11"), state("[2001:db8::10]")} == {NameState.ACTIVE}
    check = NameCheck.objects.get(name__name="192.0.2.11")
    assert (check.verdict, check.outcome) == ("unknown", "unknown")
    assert len(proxy_rows("domain", "domain")) == 3


def test_the_circuit_breaker_counts_literals(literal_domain, dns_settings):
    dns_settings.SERWEB_DNS_BREAKER_MINIMUM = 1
    dns_settings.SERWEB_DNS_BREAKER_PERCENT = 0
    # A wrong address list: both literals would go at once.
    dns_settings.SERWEB_PROXY_ADDRESSES = ["198.51.100.1"]

    done = run()

    assert done.status == HousekeepingRun.Status.HELD
    assert "2 of 3 names would have turned negative" in done.message
    assert {state("192.0.2.11"), state("[2001:db8::10]")} == {NameState.ACTIVE}
    assert len(proxy_rows("domain", "domain")) == 3


def test_an_exempt_literal_is_served_whatever_the_addresses(literal_domain, dns_settings, alice):
    dns_settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10", "2001:db8::10"]
    run()
    assert state("192.0.2.11") == NameState.DISABLED

    name_exempt_set(actor=alice, domain=literal_domain, name="192.0.2.11", exempt=True)
    assert state("192.0.2.11") == NameState.ACTIVE
    assert run().checked == 2  # the canonical name and the other literal
    assert state("192.0.2.11") == NameState.ACTIVE
    assert len(proxy_rows("domain", "domain")) == 3

    # Put back, it is checked at once.
    name_exempt_set(actor=alice, domain=literal_domain, name="192.0.2.11", exempt=False)
    assert state("192.0.2.11") == NameState.DISABLED
    assert len(proxy_rows("domain", "domain")) == 2
