"""Housekeeping of every host name of a domain, against the Knot test server: an alias goes
through its own lifecycle while the domain stays served under its other names; outages,
the circuit breaker (which counts names), exemptions, restores and "verify now"."""

import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEntry
from domains import services
from domains.dns.housekeeping import housekeeping_run
from domains.dns.name_controls import name_exempt_set, name_restore
from domains.dns.verification import domain_restore, domain_verify
from domains.models import (
    DomainCheck,
    DomainState,
    DomainTransition,
    HousekeepingRun,
    NameCheck,
    NameState,
)
from domains.signals import domains_changed
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES
from tests.helpers import proxy_rows

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings
silent_port = dns_harness.silent_port

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def make_domain(knot, dns_settings, alice):
    """A domain whose canonical name points at us, with aliases ``sip.`` and the like
    that point at us too unless told otherwise."""

    def make(*aliases: str, pointing: tuple[str, ...] | None = None, **options):
        name = knot.unique("n")
        names = [f"{alias}.{name}" for alias in aliases]
        for host in [name, *(names if pointing is None else [f"{a}.{name}" for a in pointing])]:
            knot.srv(host, PROXY_HOSTNAMES[0], services=["_sip._udp", "_sip._tcp"])
        return services.domain_create(actor=alice, name=name, aliases=names, **options)

    return make


@pytest.fixture
def changes():
    """The dids every domains_changed signal (the reload path) names."""
    seen: list[str] = []

    def receiver(sender, dids, **kwargs):
        seen.extend(dids)

    domains_changed.connect(receiver, dispatch_uid="test-name-changes")
    yield seen
    domains_changed.disconnect(dispatch_uid="test-name-changes")


def lose(knot, name: str) -> None:
    """Every record of the name gone: it answers NXDOMAIN."""
    knot.remove(f"_sip._udp.{name}")
    knot.remove(f"_sip._tcp.{name}")


def run_at(t0, hours: float = 0, **options) -> HousekeepingRun:
    run = housekeeping_run(slot=0, slots=1, now=t0 + hours * HOUR, **options)
    assert run is not None
    return run


def name_state(name: str) -> str:
    check = NameCheck.objects.filter(name__name=name).first()
    return check.state if check is not None else NameState.ACTIVE


def state_of(domain) -> str:
    domain.refresh_from_db()
    return domain.state


def served_names() -> list[str]:
    return [name for (name,) in proxy_rows("domain", "domain")]


def test_a_dead_alias_is_disabled_then_removed_while_the_domain_stays_served(
    make_domain, knot, changes
):
    domain = make_domain("sip")
    alias = f"sip.{domain.did}"
    lose(knot, alias)
    t0 = timezone.now()

    run = run_at(t0)
    assert (run.checked, run.summary["domains"]) == (2, 1)
    assert run.summary["name_transitions"] == {"active->suspect": 1}
    assert run.summary["transitions"] == {}
    assert name_state(alias) == NameState.SUSPECT
    assert set(served_names()) == {domain.did, alias}  # suspect: still served
    check = NameCheck.objects.get(name__name=alias)
    assert (check.verdict, check.negatives) == ("absent", 1)
    assert "NXDOMAIN" in check.reason

    for hours in (7, 14, 21):
        run_at(t0, hours)
        assert name_state(alias) == NameState.SUSPECT
    assert NameCheck.objects.get(name__name=alias).negatives == 4
    changes.clear()
    run = run_at(t0, 75)
    assert run.summary["name_transitions"] == {"suspect->disabled": 1}
    assert name_state(alias) == NameState.DISABLED
    assert changes == [domain.did]  # the proxies reload
    assert served_names() == [domain.did]
    assert state_of(domain) == DomainState.ACTIVE
    disabled = DomainTransition.objects.get(domain=domain, name=alias, to_state="disabled")
    assert disabled.evidence["authority"]["confirmed"] is True

    run_at(t0, 75 + 29 * 24)
    assert name_state(alias) == NameState.DISABLED
    run_at(t0, 75 + 31 * 24)
    assert name_state(alias) == NameState.REMOVED
    assert run_at(t0, 76 + 31 * 24).checked == 1  # a removed name is left alone
    assert served_names() == [domain.did]
    assert state_of(domain) == DomainState.ACTIVE
    assert domain.names.filter(name=alias).exists()  # removed softly: restorable

    history = DomainTransition.objects.filter(domain=domain).order_by("id")
    assert [(t.name, t.from_state, t.to_state) for t in history] == [
        (alias, "active", "suspect"),
        (alias, "suspect", "disabled"),
        (alias, "disabled", "removed"),
    ]
    actions = AuditEntry.objects.filter(domain=domain, action__startswith="domain.name_")
    assert sorted(actions.values_list("action", flat=True)) == [
        "domain.name_disabled",
        "domain.name_removed",
        "domain.name_suspect",
    ]
    assert all(entry.after["name"] == alias for entry in actions)


def test_a_disabled_alias_comes_back_when_its_records_return(make_domain, knot, changes):
    domain = make_domain("sip")
    alias = f"sip.{domain.did}"
    lose(knot, alias)
    t0 = timezone.now()
    for hours in (0, 7, 14, 75):
        run_at(t0, hours)
    assert name_state(alias) == NameState.DISABLED

    knot.srv(alias, PROXY_HOSTNAMES[1])
    changes.clear()
    run = run_at(t0, 76)

    assert run.summary["name_transitions"] == {"disabled->active": 1}
    assert name_state(alias) == NameState.ACTIVE
    assert set(served_names()) == {domain.did, alias}
    assert changes == [domain.did]
    check = NameCheck.objects.get(name__name=alias)
    assert (check.negatives, check.first_negative_at) == (0, None)


def test_a_dns_outage_during_the_run_changes_no_name(make_domain, knot, dns_settings, silent_port):
    domain = make_domain("sip", "voip")
    alias = f"sip.{domain.did}"
    lose(knot, alias)
    t0 = timezone.now()
    for hours in (0, 7, 14):
        run_at(t0, hours)
    before = {c.name.name: (c.state, c.negatives) for c in NameCheck.objects.select_related("name")}
    assert before[alias] == (NameState.SUSPECT, 3)

    dns_settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]
    run = run_at(t0, 80)

    assert run.status == HousekeepingRun.Status.COMPLETED
    assert run.summary["outcomes"] == {"unknown": 3}
    assert run.summary["name_transitions"] == {}
    after = {c.name.name: (c.state, c.negatives) for c in NameCheck.objects.select_related("name")}
    assert after == before
    assert set(NameCheck.objects.values_list("verdict", "unknowns")) == {("unknown", 1)}
    assert state_of(domain) == DomainState.ACTIVE


def test_the_circuit_breaker_counts_names(make_domain, knot, dns_settings, caplog):
    dns_settings.SERWEB_DNS_BREAKER_MINIMUM = 2
    dns_settings.SERWEB_DNS_BREAKER_PERCENT = 0
    # One domain: its canonical name stays; three aliases lose DNS at once.
    domain = make_domain("a", "b", "c")
    for alias in ("a", "b", "c"):
        lose(knot, f"{alias}.{domain.did}")

    with caplog.at_level(logging.ERROR, logger="domains.dns.housekeeping"):
        run = run_at(timezone.now())

    # No domain would change, three names would: more than the limit of two.
    assert run.status == HousekeepingRun.Status.HELD
    assert run.summary["held_changes"] == 3
    assert "3 of 4 names would have turned negative" in run.message
    assert set(NameCheck.objects.values_list("state", "negatives")) == {("active", 0)}
    assert state_of(domain) == DomainState.ACTIVE

    knot.srv(f"c.{domain.did}", PROXY_HOSTNAMES[0])
    run = run_at(timezone.now())
    assert run.status == HousekeepingRun.Status.COMPLETED
    assert run.summary["name_transitions"] == {"active->suspect": 2}


def test_a_domain_moving_with_its_names_counts_them_once(make_domain, knot, dns_settings):
    dns_settings.SERWEB_DNS_BREAKER_MINIMUM = 2
    dns_settings.SERWEB_DNS_BREAKER_PERCENT = 0
    domain = make_domain("sip")
    lose(knot, domain.did)
    lose(knot, f"sip.{domain.did}")

    run = run_at(timezone.now())

    # The domain and both its names turn suspect: two names, within the limit.
    assert run.status == HousekeepingRun.Status.COMPLETED, run.message
    assert run.summary["held_changes"] == 2
    assert run.summary["transitions"] == {"active->suspect": 1}
    assert run.summary["name_transitions"] == {"active->suspect": 2}


def test_a_failing_canonical_name_leaves_the_domain_served_under_its_alias(
    make_domain, knot, bob, caplog
):
    domain = make_domain("sip", tenant=bob.tenant)
    did = domain.did
    alias = f"sip.{did}"
    lose(knot, did)
    t0 = timezone.now()

    with caplog.at_level(logging.WARNING, logger="domains.dns.names"):
        run_at(t0)
    assert name_state(did) == NameState.SUSPECT
    assert state_of(domain) == DomainState.ACTIVE
    # The domain goes by the alias, which points at us.
    assert DomainCheck.objects.get(domain=domain).verdict == "ours"
    # The operator (in the log) and the tenant (in its domain's audit trail) are told.
    assert f"the canonical name {did} does not point at us (absent)" in caplog.text
    entry = AuditEntry.objects.get(action="domain.name_suspect")
    assert entry.tenant == bob.tenant
    assert entry.after["note"].endswith(f"stays served under {alias}")

    for hours in (7, 14, 75):
        run_at(t0, hours)
    assert name_state(did) == NameState.DISABLED
    assert proxy_rows("domain", "domain, did") == [(alias, did)]  # the did never changes
    domain.refresh_from_db()
    assert (domain.did, domain.state, domain.canonical_name) == (did, "active", did)


def test_a_domain_none_of_whose_names_points_at_us_turns_suspect_with_them(make_domain, knot):
    domain = make_domain("sip")
    alias = f"sip.{domain.did}"
    lose(knot, domain.did)
    lose(knot, alias)
    t0 = timezone.now()

    run_at(t0)
    assert (state_of(domain), name_state(domain.did), name_state(alias)) == ("suspect",) * 3
    # No name to be served under: the domain's own move tells.
    canonical = AuditEntry.objects.get(action="domain.name_suspect", after__name=domain.did)
    assert "note" not in canonical.after
    assert AuditEntry.objects.filter(action="domain.state_suspect", domain=domain).exists()

    # The alias points at us again: the domain is active, the canonical name still suspect.
    knot.srv(alias, PROXY_HOSTNAMES[0])
    run_at(t0, 7)
    assert (state_of(domain), name_state(domain.did), name_state(alias)) == (
        "active",
        "suspect",
        "active",
    )


def test_an_exempt_name_is_not_checked_and_stays_served(make_domain, knot, alice):
    domain = make_domain("legacy", pointing=())
    alias = f"legacy.{domain.did}"
    t0 = timezone.now()
    for hours in (0, 7, 14, 75):
        run_at(t0, hours)
    assert name_state(alias) == NameState.DISABLED

    name_exempt_set(actor=alice, domain=domain, name=alias, exempt=True)
    assert name_state(alias) == NameState.ACTIVE
    assert set(served_names()) == {domain.did, alias}
    assert run_at(t0, 80).checked == 1
    assert name_state(alias) == NameState.ACTIVE
    assert AuditEntry.objects.filter(action="domain.name_exempt").count() == 1

    name_exempt_set(actor=alice, domain=domain, name=alias, exempt=False)
    assert run_at(t0, 81).checked == 2
    assert name_state(alias) == NameState.SUSPECT


def test_a_removed_name_is_restored_by_the_operator(make_domain, knot, alice, changes):
    domain = make_domain("sip", pointing=())
    alias = f"sip.{domain.did}"
    t0 = timezone.now()
    for hours in (0, 7, 14, 75, 75 + 31 * 24):
        run_at(t0, hours)
    assert name_state(alias) == NameState.REMOVED

    restored = name_restore(actor=alice, domain=domain, name=alias)
    # Back under housekeeping, not served until DNS says so.
    assert (restored.state, restored.negatives) == (NameState.DISABLED, 0)
    assert served_names() == [domain.did]

    knot.srv(alias, PROXY_HOSTNAMES[0])
    changes.clear()
    result = domain_verify(actor=alice, domain=domain)
    assert [(n.name, n.from_state, n.to_state) for n in result.names] == [
        (domain.did, "active", "active"),
        (alias, "disabled", "active"),
    ]
    assert set(served_names()) == {domain.did, alias}
    assert changes == [domain.did]
    assert AuditEntry.objects.filter(action="domain.name_restore").count() == 1


def test_restoring_a_removed_domain_restores_its_removed_names(make_domain, knot, alice):
    domain = make_domain()  # removed by housekeeping, as it pointed elsewhere a while
    NameCheck.objects.create(name=domain.names.get(), state=NameState.REMOVED)
    services.domain_set_state(actor=alice, domain=domain, state=DomainState.REMOVED)

    result = domain_restore(actor=alice, domain=domain)

    assert (result.from_state, result.to_state) == ("pending", "active")
    assert name_state(domain.did) == NameState.ACTIVE
    assert served_names() == [domain.did]


def test_the_names_of_a_pending_domain_count_no_negatives(make_domain, knot):
    domain = make_domain("sip", pointing=(), state=DomainState.PENDING)
    lose(knot, domain.did)
    t0 = timezone.now()
    for hours in (0, 7, 14, 75):
        run_at(t0, hours)

    assert state_of(domain) == DomainState.PENDING
    assert set(NameCheck.objects.values_list("state", "negatives", "verdict")) == {
        ("active", 0, "absent")
    }


def test_verify_now_checks_every_name(make_domain, knot, alice):
    domain = make_domain("sip", "voip", pointing=("voip",))
    services.domain_name_add(actor=alice, domain=domain, name="192.0.2.55")
    services.domain_name_add(actor=alice, domain=domain, name="[2001:db8::10]")

    result = domain_verify(actor=alice, domain=domain)

    assert (result.name, result.to_state) == (domain.did, DomainState.ACTIVE)
    moved = {
        n.name: (n.from_state, n.to_state, str(n.observation.sip.verdict)) for n in result.names
    }
    assert moved == {
        domain.did: ("active", "active", "ours"),
        f"sip.{domain.did}": ("active", "suspect", "absent"),
        f"voip.{domain.did}": ("active", "active", "ours"),
        # IP literals against the proxy addresses: no grace, since no DNS is behind them.
        "192.0.2.55": ("active", "disabled", "foreign"),
        "[2001:db8::10]": ("active", "active", "ours"),
    }


def test_the_command_reports_domains_and_names(make_domain, knot, capsys):
    domain = make_domain("sip")
    lose(knot, f"sip.{domain.did}")

    call_command("housekeeping", "--all")

    out = capsys.readouterr().out
    assert "completed, 1 domain checked (2 names) with" in out
    assert "  verdicts of names: absent 1, ours 1" in out
    assert "  name transitions: active->suspect 1" in out
