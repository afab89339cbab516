"""DNS housekeeping against the Knot test server: runs, canaries, the circuit breaker,
outages, the lifecycle over time, slots, the tasks (in-process) and the command."""

import json
import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry
from domains import services
from domains.dns import tasks as dns_tasks
from domains.dns.housekeeping import housekeeping_run
from domains.dns.policy import DnsPolicy
from domains.dns.slots import current_slot
from domains.dns.verification import domain_dns_managed_set
from domains.models import (
    AttributeSource,
    DomainCheck,
    DomainState,
    DomainTransition,
    HousekeepingRun,
    NameCheck,
)
from serweb.celery import app, task_named
from subscribers.services import subscriber_create
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings
silent_port = dns_harness.silent_port

HOUR = timedelta(hours=1)


@pytest.fixture
def make_domain(knot, dns_settings, alice):
    def make(*, pointing: bool = True, state: str = DomainState.ACTIVE):
        name = knot.unique("h")
        if pointing:
            knot.srv(name, PROXY_HOSTNAMES[0], services=["_sip._udp", "_sip._tcp"])
        else:
            knot.add(name, "TXT", '"no sip here"')
        return services.domain_create(actor=alice, name=name, state=state)

    return make


def lose_srv(knot, domain) -> None:
    knot.remove(f"_sip._udp.{domain.did}")
    knot.remove(f"_sip._tcp.{domain.did}")


def state_of(domain) -> str:
    domain.refresh_from_db()
    return domain.state


def run_all(hours: float = 0, t0=None, **options) -> HousekeepingRun:
    now = (t0 or timezone.now()) + hours * HOUR
    run = housekeeping_run(slot=0, slots=1, now=now, **options)
    assert run is not None
    return run


def test_a_run_checks_every_domain_and_applies_what_dns_says(make_domain, knot):
    kept = make_domain()
    lost = make_domain()
    waiting = make_domain(state=DomainState.PENDING)
    lose_srv(knot, lost)

    run = run_all()

    assert run.status == HousekeepingRun.Status.COMPLETED
    assert run.checked == 3
    assert run.summary["verdicts"] == {"ours": 2, "absent": 1}
    assert run.summary["transitions"] == {"active->suspect": 1, "pending->active": 1}
    assert (state_of(kept), state_of(lost), state_of(waiting)) == ("active", "suspect", "active")
    transition = DomainTransition.objects.get(domain=lost, name="")
    assert transition.run == run
    assert transition.evidence["verdict"] == "absent"
    # A few queries per domain: NAPTR, three SRV names, no address lookups for our hosts.
    assert run.queries <= 4 * 3


def test_a_dns_outage_during_housekeeping_disables_nothing(
    make_domain, knot, dns_settings, silent_port
):
    t0 = timezone.now()
    healthy = make_domain()
    dying = make_domain()
    lose_srv(knot, dying)
    for hours in (0, 7, 14):
        run_all(hours, t0)
    assert state_of(dying) == DomainState.SUSPECT
    counters = DomainCheck.objects.get(domain=dying).negatives

    dns_settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]
    run = run_all(80, t0)

    assert run.summary["outcomes"] == {"unknown": 2}
    assert (state_of(healthy), state_of(dying)) == ("active", "suspect")
    check = DomainCheck.objects.get(domain=dying)
    assert check.negatives == counters
    assert check.unknowns == 1
    assert check.verdict == "unknown"


def test_a_domain_whose_name_is_refused_changes_nothing(make_domain, dns_settings):
    domain = make_domain()
    # Knot serves no zone for this name and answers REFUSED.
    services.domain_name_add(actor=None, domain=domain, name="sip.example.refused-zone")
    services.domain_make_canonical(actor=None, domain=domain, name="sip.example.refused-zone")

    run = run_all()

    # The old canonical name, now an alias, still points at us.
    assert run.summary["verdicts"] == {"unknown": 1, "ours": 1}
    assert state_of(domain) == DomainState.ACTIVE
    refused = NameCheck.objects.get(name__name="sip.example.refused-zone")
    assert (refused.state, refused.verdict, refused.unknowns) == ("active", "unknown", 1)


def test_a_domain_that_loses_its_srv_is_disabled_removed_and_restorable(make_domain, knot, alice):
    domain = make_domain()
    subscriber_create(actor=alice, domain=domain, username="frank", password="secret-pass")
    t0 = timezone.now()
    lose_srv(knot, domain)

    assert [run_all(h, t0) and state_of(domain) for h in (0, 7, 14, 21)] == ["suspect"] * 4
    run_all(75, t0)
    assert state_of(domain) == DomainState.DISABLED

    # Restored in between: DNS points at us again, users intact.
    knot.srv(domain.did, PROXY_HOSTNAMES[1])
    run_all(76, t0)
    assert state_of(domain) == DomainState.ACTIVE
    assert domain.subscribers.count() == 1

    # Lost again: the counting starts over, then the second grace period removes it.
    lose_srv(knot, domain)
    t1 = t0 + 100 * HOUR
    for hours in (0, 7, 14, 75):
        run_all(hours, t1)
    assert state_of(domain) == DomainState.DISABLED
    # The second grace runs from the disable (stamped with the real time, about now).
    run_all(24 * 29)
    assert state_of(domain) == DomainState.DISABLED
    run_all(24 * 31)
    assert state_of(domain) == DomainState.REMOVED
    assert domain.subscribers.count() == 1
    # Removed domains are left alone by later runs.
    assert run_all(24 * 32).checked == 0
    states = list(
        DomainTransition.objects.filter(domain=domain, name="")
        .order_by("id")
        .values_list("from_state", "to_state")
    )
    assert states == [
        ("active", "suspect"),
        ("suspect", "disabled"),
        ("disabled", "active"),
        ("active", "suspect"),
        ("suspect", "disabled"),
        ("disabled", "removed"),
    ]


def test_a_failing_canary_stops_the_run_before_any_change(make_domain, knot, dns_settings):
    canary = knot.unique("canary")
    knot.srv(canary, PROXY_HOSTNAMES[0])
    dns_settings.SERWEB_DNS_CANARIES = [canary]
    lost = make_domain()
    lose_srv(knot, lost)
    assert run_all().status == HousekeepingRun.Status.COMPLETED
    assert state_of(lost) == DomainState.SUSPECT

    # The canary stops pointing at us: the resolver or the host list is broken.
    other = make_domain()
    lose_srv(knot, other)
    knot.remove(f"_sip._udp.{canary}")
    run = run_all()

    assert run.status == HousekeepingRun.Status.ABORTED
    assert canary in run.message
    assert run.checked == 0
    assert state_of(other) == DomainState.ACTIVE
    assert AuditEntry.objects.filter(action="housekeeping.aborted").exists()


def test_the_circuit_breaker_holds_a_mass_change(make_domain, dns_settings, caplog):
    dns_settings.SERWEB_DNS_BREAKER_MINIMUM = 2
    domains = [make_domain() for _ in range(4)]
    # A wrong host list: suddenly nothing points at us.
    dns_settings.SERWEB_PROXY_HOSTNAMES = ["wrong.serweb.test"]
    dns_settings.SERWEB_PROXY_ADDRESSES = ["198.51.100.99"]

    with caplog.at_level(logging.ERROR, logger="domains.dns.housekeeping"):
        run = run_all()

    assert run.status == HousekeepingRun.Status.HELD
    assert run.summary["held_changes"] == 4
    assert {state_of(d) for d in domains} == {"active"}
    assert set(DomainCheck.objects.values_list("negatives", flat=True)) == {0}
    assert "would have turned negative" in caplog.text
    assert AuditEntry.objects.filter(action="housekeeping.held").exists()


def test_below_the_breaker_limit_negatives_apply(make_domain, knot, dns_settings):
    dns_settings.SERWEB_DNS_BREAKER_MINIMUM = 2
    domains = [make_domain() for _ in range(4)]
    for domain in domains[:2]:
        lose_srv(knot, domain)

    assert run_all().status == HousekeepingRun.Status.COMPLETED
    assert [state_of(d) for d in domains] == ["suspect", "suspect", "active", "active"]


def test_a_long_run_of_unknowns_alerts_the_operators(
    make_domain, dns_settings, silent_port, caplog
):
    dns_settings.SERWEB_DNS_UNKNOWN_ALERT = 2
    domain = make_domain()
    dns_settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]
    assert run_all().summary["unknown_alerts"] == []

    with caplog.at_level(logging.WARNING, logger="domains.dns.housekeeping"):
        run = run_all()

    assert run.summary["unknown_alerts"] == [domain.did]
    assert "without an answer" in caplog.text


def test_slots_spread_the_domains_over_the_interval(make_domain, dns_settings):
    domains = [make_domain() for _ in range(4)]
    seen: dict[int, list[int]] = {}
    for slot in (0, 1):
        run = housekeeping_run(slot=slot, slots=2)
        seen[slot] = list(
            DomainCheck.objects.filter(checked_at=run.started_at).values_list(
                "domain_id", flat=True
            )
        )
    assert sorted(seen[0] + seen[1]) == sorted(d.pk for d in domains)
    assert {pk % 2 for pk in seen[0]} == {0} and {pk % 2 for pk in seen[1]} == {1}


def test_the_current_slot_follows_the_clock(dns_settings):
    policy = DnsPolicy.from_settings()
    assert policy.slots == 24  # every 15 minutes over 6 hours
    now = timezone.now()
    assert (
        current_slot(now + 15 * timedelta(minutes=1), policy)
        == (current_slot(now, policy) + 1) % 24
    )


def test_unmanaged_and_removed_domains_are_not_checked(make_domain, alice):
    unmanaged = make_domain(pointing=False)
    domain_dns_managed_set(actor=alice, domain=unmanaged, managed=False)
    make_domain(pointing=False, state=DomainState.REMOVED)

    assert run_all().checked == 0
    assert state_of(unmanaged) == DomainState.ACTIVE


def test_a_slot_that_is_running_is_not_run_twice(make_domain):
    make_domain()
    HousekeepingRun.objects.create(slot=0, slots=1)

    assert housekeeping_run(slot=0, slots=1) is None


def test_a_run_left_running_for_too_long_is_taken_over(make_domain):
    make_domain()
    stale = HousekeepingRun.objects.create(slot=0, slots=1, started_at=timezone.now() - 2 * HOUR)

    run = housekeeping_run(slot=0, slots=1)

    assert run is not None and run.status == HousekeepingRun.Status.COMPLETED
    stale.refresh_from_db()
    assert stale.status == HousekeepingRun.Status.ABORTED
    assert "taken as crashed" in stale.message


def test_attributes_are_imported_by_housekeeping(make_domain, knot):
    domain = make_domain()
    knot.add(f"_serweb-config.{domain.did}", "TXT", '"max_contacts=" "12"')

    run = run_all()

    assert run.summary["attributes"] == {"imported": 1}
    assert domain.attributes.get(source=AttributeSource.DNS).value == "12"


# --- tasks, in-process --------------------------------------------------------------------------


def test_the_housekeeping_task_and_reverify_all(make_domain, knot):
    domains = [make_domain() for _ in range(3)]
    lose_srv(knot, domains[0])

    run_id = dns_tasks.housekeeping.apply(kwargs={"slot": 0, "slots": 1}).get()
    assert HousekeepingRun.objects.get(pk=run_id).checked == 3
    assert state_of(domains[0]) == DomainState.SUSPECT

    # Eager here (no broker): every slice runs at once, in this process.
    assert dns_tasks.reverify_all.apply(kwargs={"slices": 3}).get() == 3
    assert HousekeepingRun.objects.filter(slots=3).count() == 3
    assert sum(HousekeepingRun.objects.filter(slots=3).values_list("checked", flat=True)) == 3
    entry = AuditEntry.objects.get(action="domain.state_suspect")
    assert (entry.channel, entry.actor_name) == ("task", "system")


def test_a_housekeeping_task_queued_under_its_old_name_runs(make_domain):
    make_domain()

    task_named("domains.dns_tasks.housekeeping").delay(slot=0, slots=1)

    assert HousekeepingRun.objects.get().checked == 1


def test_every_dns_task_is_run_by_something():
    app.loader.import_default_modules()  # every task module, as a worker imports them
    registered = {n for n in app.tasks if n.startswith(("domains.dns.", "domains.dns_tasks."))}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    queued = {"domains.dns.tasks.reverify_all"}  # by `housekeeping --queue`
    forwarded = {"domains.dns_tasks.housekeeping"}  # queued under the name of before
    assert registered - scheduled - queued - forwarded == set()
    assert registered & scheduled == {
        "domains.dns.tasks.housekeeping",
        "domains.dns.tasks.claims_retry",
    }


def test_the_beat_schedule_retries_waiting_claims():
    entry = settings.CELERY_BEAT_SCHEDULE["dns-claims"]
    assert entry["task"] == "domains.dns.tasks.claims_retry"
    assert entry["schedule"] == settings.SERWEB_CLAIM_RETRY_MINUTES * 60


def test_the_beat_schedule_runs_housekeeping():
    entry = settings.CELERY_BEAT_SCHEDULE["dns-housekeeping"]
    assert entry["task"] == "domains.dns.tasks.housekeeping"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == settings.SERWEB_DNS_HOUSEKEEPING_EVERY_MINUTES * 60


# --- the command --------------------------------------------------------------------------------


def test_the_command_runs_every_domain_and_reports(make_domain, knot, capsys):
    make_domain()
    lost = make_domain()
    lose_srv(knot, lost)

    call_command("housekeeping", "--all")

    out = capsys.readouterr().out
    assert "completed, 2 domains checked" in out
    assert "transitions: active->suspect 1" in out
    assert AuditEntry.objects.get(action="domain.state_suspect").channel == "cli"


def test_the_command_speaks_json_and_fails_when_held(make_domain, dns_settings, capsys):
    dns_settings.SERWEB_DNS_BREAKER_MINIMUM = 0
    dns_settings.SERWEB_DNS_BREAKER_PERCENT = 0
    make_domain(pointing=False)

    with pytest.raises(CommandError, match="circuit breaker"):
        call_command("housekeeping", "--all", "--json")

    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["checked"], report["held_changes"]) == ("held", 1, 1)


def test_the_command_queues_every_slot_for_the_workers(make_domain, knot, capsys):
    domains = [make_domain() for _ in range(3)]
    lose_srv(knot, domains[0])

    call_command("housekeeping", "--queue", "--slots", "2")

    # Without a broker the queued runs have taken place already, here.
    assert "queued 2 housekeeping runs, one per slot of 2" in capsys.readouterr().out
    runs = HousekeepingRun.objects.filter(slots=2)
    assert sorted(runs.values_list("slot", flat=True)) == [0, 1]
    assert sum(runs.values_list("checked", flat=True)) == 3
    assert state_of(domains[0]) == DomainState.SUSPECT

    call_command("housekeeping", "--queue", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["queued"] == DnsPolicy.from_settings().slots


def test_the_command_refuses_a_slot_without_slots(dns_settings):
    with pytest.raises(CommandError, match="--slot needs --slots"):
        call_command("housekeeping", "--slot", "1")
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("housekeeping", "--slot", "2", "--slots", "2")
    with pytest.raises(CommandError, match="--slots must be at least 1"):
        call_command("housekeeping", "--queue", "--slots", "0")
