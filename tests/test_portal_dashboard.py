"""The operators' dashboard: domains by state and origin, claims waiting, suspect domains
with the time until housekeeping could disable them, each proxy's generations and last
error, the latest audit entries; in a fixed number of queries."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.dns.lifecycle import Counters, decide, disable_earliest_at
from domains.dns.observation import Outcome
from domains.dns.policy import DnsPolicy
from domains.models import DomainCheck, DomainOrigin, DomainState, Tenant
from domains.services import domain_create
from portal import selectors
from tests.portal_helpers import add_world


@pytest.fixture
def tenant(bob) -> Tenant:
    return Tenant.objects.get(owner=bob)


def dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/dashboard/")
    assert page.status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(client, alice, tenant, tmp_path):
    client.force_login(alice)
    add_world(alice, tenant, tmp_path, 1)
    few = dashboard_queries(client)

    add_world(alice, tenant, tmp_path, 12)
    assert len(selectors.dashboard().proxies) == 13
    assert dashboard_queries(client) == few


def test_domains_are_counted_by_state_and_origin(alice, tenant, tmp_path):
    add_world(alice, tenant, tmp_path, 2)
    board = selectors.dashboard()

    rows = {row.state: row for row in board.states}
    assert [row.state for row in board.states] == list(DomainState.values)
    assert board.origins == [origin.label for origin in DomainOrigin]
    # operator, tenant, dns
    assert rows["active"].by_origin == [2, 0, 2]
    assert rows["active"].switched_off == 2
    assert rows["pending"].by_origin == [0, 2, 0]
    assert rows["suspect"].by_origin == [2, 0, 0]
    assert rows["removed"].total == 0
    assert board.totals_by_origin == [4, 2, 2]
    assert board.total == 8
    assert board.served == 4  # two active operator domains, two suspect; DNS ones off


def test_the_page_shows_claims_suspects_proxies_and_audit(client, alice, tenant, tmp_path):
    add_world(alice, tenant, tmp_path, 1)
    client.force_login(alice)
    page = client.get("/dashboard/").text.replace("\xa0", " ")

    board = selectors.dashboard()
    assert board.claims_waiting_count == 1 and board.suspects_count == 1
    [suspect] = board.suspects
    # 1 negative of 3, 6 h apart: 2 more by 8 h from now; the first 72 h old: 62 h from now.
    assert suspect.disable_at == suspect.first_negative_at + timedelta(hours=72)
    assert f"{timezone.localtime(suspect.disable_at):%Y-%m-%d %H:%M}" in page
    assert "in 2 days, 13 hours" in page or "in 2 days, 14 hours" in page
    assert "1 of 3" in page

    [claim] = board.claims_waiting
    assert claim.name in page and tenant.name in page
    assert claim.token not in page  # a secret until the tenant publishes it

    [proxy] = board.proxies
    assert proxy.state == "pending" or proxy.state == "failing"
    assert f"{proxy.applied_generation} / {proxy.desired_generation}" in page
    assert "does not exist: Kamailio is not running" in page
    assert "domain.create" in page and "proxy.create" in page and "domain.claim_start" in page


def test_a_suspect_domain_says_when_it_could_be_disabled(client, alice, tenant, tmp_path):
    now = timezone.now()
    cases = {
        "due.example.com": dict(negatives=3, first=80, last=1, managed=True),
        "unmanaged.example.com": dict(negatives=2, first=90, last=20, managed=False),
        "fresh.example.com": None,
    }
    for name, counters in cases.items():
        domain = domain_create(actor=alice, name=name, state=DomainState.SUSPECT)
        if counters is not None:
            DomainCheck.objects.create(
                domain=domain,
                managed=counters["managed"],
                negatives=counters["negatives"],
                first_negative_at=now - timedelta(hours=counters["first"]),
                last_negative_at=now - timedelta(hours=counters["last"]),
            )
    client.force_login(alice)
    page = " ".join(client.get("/dashboard/").text.split())

    assert "<strong>at its next negative check</strong>" in page
    assert "never: housekeeping does not manage it" in page
    assert "after its first negative check" in page
    shown = [suspect.domain.did for suspect in selectors.dashboard().suspects]
    assert shown == ["due.example.com", "fresh.example.com", "unmanaged.example.com"]


def test_a_dashboard_of_nothing_says_so(client, alice):
    client.force_login(alice)
    page = client.get("/dashboard/").text
    for empty in ["No domain is suspect.", "No claim is waiting.", "No proxy is registered"]:
        assert empty in page


def test_the_proxy_panel_refreshes_itself_as_a_fragment(client, alice, tenant, tmp_path):
    add_world(alice, tenant, tmp_path, 1)
    client.force_login(alice)

    fragment = client.get("/dashboard/?part=proxies", HTTP_HX_REQUEST="true")
    assert fragment.text.lstrip().startswith('<section id="proxy-status"')
    assert "edge-" in fragment.text and "<html" not in fragment.text
    assert 'hx-trigger="every 15s"' in fragment.text

    # Without htmx the same address is the whole page.
    assert "<html" in client.get("/dashboard/?part=proxies").text


# --- the rule behind "could be disabled" ---------------------------------------------------


@pytest.mark.parametrize(
    ("negatives", "first_ago", "last_ago"),
    [
        (1, 10, 10),
        (2, 20, 3),
        (3, 80, 1),
        (2, 100, 100),
        (1, 0, 0),
        (5, 2, 1),
        (1, 71, 71),
        (2, 75, 2),
        (1, 200, 200),
    ],
)
def test_the_time_shown_is_when_the_lifecycle_first_disables(negatives, first_ago, last_ago):
    """Negative checks every 15 minutes from now: the first one that disables the domain
    (by ``decide``) is the first at or after ``disable_earliest_at``."""
    policy = replace(
        DnsPolicy.from_settings(),
        negatives_to_disable=3,
        negative_spacing=timedelta(hours=6),
        disable_grace=timedelta(hours=72),
    )
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(0))
    counters = Counters(
        negatives, now - timedelta(hours=first_ago), now - timedelta(hours=last_ago)
    )
    earliest = disable_earliest_at(counters, policy, now)

    step = timedelta(minutes=15)
    at = now
    while True:
        decision = decide(
            state=DomainState.SUSPECT,
            state_changed_at=now - timedelta(hours=first_ago),
            counters=counters,
            outcome=Outcome.NEGATIVE,
            now=at,
            policy=policy,
        )
        if decision.to_state == DomainState.DISABLED:
            break
        counters = decision.counters
        at += step
    assert earliest <= at < earliest + step


def test_no_time_is_shown_before_the_first_negative():
    assert disable_earliest_at(Counters(), DnsPolicy.from_settings(), timezone.now()) is None
