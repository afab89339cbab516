"""A domain's names in a real browser (Debian's chromium through Playwright): the operator's
page shows each name's DNS state and last check and exempts or restores a name; the
tenant's page and banner name the failing one. Every page is checked with axe and
photographed."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from domains.models import DomainName, NameCheck, NameState, Tenant
from domains.services import domain_create
from tests.browser import NARROW, WIDE, start_signed_in

DID = "names.example.net"


@pytest.fixture
def named(alice, bob):
    """A tenant's domain with a name in every DNS state."""
    domain = domain_create(
        actor=alice,
        name=DID,
        aliases=["sip.names.example.net", "old.names.example.net", "192.0.2.7", "[2001:db8::7]"],
        tenant=Tenant.objects.get(owner=bob),
    )
    now = timezone.now()
    for name, state, verdict, reason in [
        (DID, NameState.ACTIVE, "ours", "points at us: proxy1.serweb.test"),
        ("sip.names.example.net", NameState.SUSPECT, "absent", "the domain does not exist"),
        ("old.names.example.net", NameState.REMOVED, "foreign", "points elsewhere: x.example"),
        ("192.0.2.7", NameState.DISABLED, "foreign", "192.0.2.7 is not one of the proxy addresses"),
    ]:
        NameCheck.objects.create(
            name=DomainName.objects.get(name=name),
            state=state,
            verdict=verdict,
            outcome="positive" if verdict == "ours" else "negative",
            reason=reason,
            checked_at=now,
            negatives=0 if verdict == "ours" else 1,
            first_negative_at=None if verdict == "ours" else now,
            last_negative_at=None if verdict == "ours" else now,
        )
    return domain


def test_an_operator_sees_and_controls_each_name(visit, alice, named):
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")
    visit.go(f"/domain/{DID}/")
    names = page.get_by_role("region", name="Names")
    expect(names.get_by_role("row", name=re.compile("^sip.names"))).to_contain_text("suspect")
    expect(names.get_by_role("row", name=re.compile("^192.0.2.7"))).to_contain_text(
        "192.0.2.7 is not one of the proxy addresses"
    )
    visit.seen("domain-names")

    page.get_by_role("button", name="Exempt 192.0.2.7 from DNS housekeeping").click()
    expect(page.get_by_role("status")).to_contain_text("Exempted 192.0.2.7 from DNS housekeeping")
    expect(names.get_by_role("row", name=re.compile("^192.0.2.7"))).to_contain_text("exempt")
    visit.seen("domain-name-exempted")

    page.get_by_role("button", name="Restore old.names.example.net").click()
    expect(page.get_by_role("status")).to_contain_text("Restored old.names.example.net")
    row = names.get_by_role("row", name=re.compile("^old.names"))
    expect(row).to_contain_text("disabled")
    page.set_viewport_size(NARROW)
    visit.seen("domain-name-restored-narrow")
    page.set_viewport_size(WIDE)
    assert NameCheck.objects.get(name__name="old.names.example.net").state == NameState.DISABLED


def test_a_tenant_sees_which_name_fails(visit, bob, named):
    page = visit.page
    start_signed_in(visit, "bob", "bob-pass", "/my/domains/")
    banner = page.locator(".dns-alerts")
    expect(banner).to_contain_text("sip.names.example.net, a name of names.example.net, is suspect")
    expect(banner).to_contain_text("stays served under its other names")
    banner.get_by_role("link", name="names.example.net").first.click()
    section = page.get_by_role("region", name="Names")
    expect(section).to_contain_text("192.0.2.7 (IP literal) disabled: not served")
    expect(section).to_contain_text("suspect: served, but its DNS no longer points at us")
    visit.seen("my-domain-names")
