"""The operators' domain pages in a real browser (Debian's chromium through Playwright)
against a live server and the test DNS server: an operator finds domains, adds one with an
alias, gives it an attribute, disables and enables it, verifies it in DNS and sees the
result appear without a reload, and deletes a domain once the confirmation has named what
goes with it. Every page is checked with axe and photographed, filled with data."""

import re

import pytest
from playwright.sync_api import expect

from domains.models import Domain, DomainAttribute, DomainCheck, DomainOrigin, DomainState, Tenant
from domains.names import normalize_host
from domains.services import domain_create
from proxies.models import ProxyTransport
from proxies.services import proxy_create
from subscribers.services import subscriber_create
from tests import dns_harness
from tests.browser import NARROW, WIDE, start_signed_in
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings


@pytest.fixture
def filled(alice, bob, tmp_path):
    """A service with some history: tenants' and operators' domains in every state, DNS
    verdicts, a proxy that has not loaded the latest changes."""
    proxy_create(
        actor=alice, name="edge-1", transport=ProxyTransport.FIFO, address=str(tmp_path / "k.fifo")
    )
    tenant = Tenant.objects.get(owner=bob)
    verdicts = ["ours", "ours", "foreign", "absent", "unknown", ""]
    for i in range(12):
        domain = domain_create(
            actor=alice,
            name=f"{'straße' if i == 3 else 'voice'}{i}.example.net",
            aliases=[f"sip{i}.example.net"] + ([f"192.0.2.{i + 10}"] if i % 3 == 0 else []),
            tenant=tenant if i % 2 else None,
            origin=DomainOrigin.TENANT if i % 2 else DomainOrigin.OPERATOR,
            state=[DomainState.ACTIVE, DomainState.SUSPECT, DomainState.PENDING][i % 3],
            enabled=i != 4,
        )
        if verdicts[i % 6]:
            DomainCheck.objects.create(domain=domain, verdict=verdicts[i % 6], outcome="positive")
    old = Domain.objects.get(did="voice0.example.net")
    subscriber_create(actor=alice, domain=old, username="carol", password="carol-secret-9")


def test_an_operator_runs_a_domain_from_the_browser(visit, alice, filled, knot, dns_settings):
    page = visit.page
    name = knot.unique("web")
    knot.srv(name, PROXY_HOSTNAMES[0], services=["_sip._udp", "_sip._tcp"])

    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Domains").click()
    expect(page).to_have_url(re.compile(r"/domains/$"))
    rows = page.get_by_role("region", name="Domains found").get_by_role("row")
    expect(rows).to_have_count(13)
    idn = normalize_host("straße3.example.net").value
    expect(page.get_by_title(idn)).to_have_text("straße3.example.net")
    visit.seen("domains")

    # The search swaps the results in place; the address follows.
    page.get_by_label("Search").fill("sip5.example")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"search=sip5.example"))
    visit.seen("domains-searched")

    page.set_viewport_size(NARROW)
    visit.go("/domains/?state=suspect")
    visit.seen("domains-suspect-narrow")
    page.set_viewport_size(WIDE)

    # A new domain with an alias; a bad one first: the message is next to its field.
    visit.go("/domains/new/")
    visit.seen("domain-new")
    page.get_by_label("Canonical name").fill(name)
    page.get_by_label("Other names").fill(f"sip.{name}")
    page.get_by_role("button", name="Add the domain").click()
    expect(page).to_have_url(re.compile(f"/domain/{re.escape(name)}/$"))
    expect(page.get_by_role("status")).to_contain_text(f"Domain {name} created")
    expect(page.get_by_role("status")).to_contain_text("not live yet on proxy edge-1")
    visit.seen("domain-created")

    names = page.get_by_role("region", name="Names")  # the table of names
    page.get_by_label("Alias or IP literal").fill("not a name!")
    page.get_by_role("button", name="Add the name").click()
    expect(page.locator("#id_alias-name_error")).to_contain_text("not a valid domain name")
    visit.seen("domain-bad-alias")
    page.get_by_label("Alias or IP literal").fill("192.0.2.99")
    page.get_by_role("button", name="Add the name").click()
    expect(names).to_contain_text("192.0.2.99")

    page.get_by_label("Attribute", exact=True).fill("max_contacts")
    page.get_by_label("Value").fill("4")
    page.get_by_role("button", name="Set the attribute").click()
    expect(page.get_by_role("status")).to_contain_text("Attribute max_contacts=4 set")
    expect(page.get_by_role("region", name="Attributes")).to_contain_text("max_contacts")
    assert DomainAttribute.objects.get(domain__did=name).value == "4"
    visit.seen("domain-attribute")

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text(f"Domain {name} disabled")
    expect(page.locator("#domain-status")).to_contain_text("disabled by an operator")
    visit.seen("domain-disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text(f"Domain {name} enabled")
    assert Domain.objects.get(did=name).enabled

    # Verify now: the job's result and the DNS panel appear without a page load.
    expect(page.locator("#dns-panel")).to_contain_text("Not checked yet.")
    loads = len(visit.navigated)
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator("#verify-job")).to_contain_text("DNS check done: points at us")
    panel = page.locator("#dns-panel")
    expect(panel).to_contain_text(f"points at us: {PROXY_HOSTNAMES[0]}")
    records = page.get_by_role("region", name="DNS records the last check saw")
    expect(records.get_by_role("row", name=re.compile(r"SRV \(UDP\)"))).to_contain_text(
        "✓ as expected"
    )
    expect(records).to_contain_text(knot.nameserver)
    assert len(visit.navigated) == loads
    visit.seen("domain-verified")

    # Each change made on these pages is in the audit log, with its diff.
    visit.go(f"/audit/?did={name}")
    entries = page.get_by_role("region", name="Audit entries")
    expect(entries.get_by_role("row").filter(has_text="domain.create")).to_contain_text(name)
    alias = entries.get_by_role("row").filter(has_text="domain.alias_add")
    expect(alias.locator("ins")).to_contain_text("192.0.2.99")
    attribute = entries.get_by_role("row").filter(has_text="domain.attr_set")
    expect(attribute.locator("ins")).to_have_text("4")
    disabled = entries.get_by_role("row").filter(has_text="domain.disable")
    expect(disabled.locator("del")).to_have_text("yes")
    expect(disabled.locator("ins")).to_have_text("no")
    expect(entries.get_by_role("row").filter(has_text="domain.enable").locator("ins")).to_have_text(
        "yes"
    )
    expect(entries).to_contain_text("web")
    visit.seen("domain-audit")

    # Deleting another domain: the confirmation names what goes with it.
    visit.go("/domain/voice0.example.net/")
    visit.seen("domain-with-subscriber")
    page.get_by_role("button", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete voice0.example.net?")).to_be_visible()
    expect(page.locator("main")).to_contain_text("1 subscriber, with their passwords")
    visit.seen("domain-delete")
    page.get_by_role("button", name="Delete voice0.example.net").click()
    expect(page.locator("#id_force_error")).to_contain_text("still has 1 subscriber(s)")
    visit.seen("domain-delete-refused")
    page.get_by_label(re.compile("Also delete its 1 subscriber")).check()
    page.get_by_role("button", name="Delete voice0.example.net").click()
    expect(page).to_have_url(re.compile(r"/domains/$"))
    expect(page.get_by_role("status")).to_contain_text("Domain voice0.example.net deleted")
    assert not Domain.objects.filter(did="voice0.example.net").exists()
    visit.seen("domains-after-delete")


def test_an_operator_disables_several_domains_at_once(visit, alice, filled):
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")
    visit.go("/domains/?state=suspect")
    visit.seen("domains-suspect")
    results = page.get_by_role("region", name="Domains found")
    results.get_by_label("Select voice1.example.net", exact=True).check()
    results.get_by_label("Select voice7.example.net", exact=True).check()
    page.get_by_label("Action").select_option("disable")
    page.get_by_role("button", name="Review…").click()
    expect(page.get_by_role("heading", name="Disable 2 domains?")).to_be_visible()
    visit.seen("domains-bulk-confirm")
    page.get_by_role("button", name="Disable 2 domains").click()
    expect(page).to_have_url(re.compile(r"/domains/\?state=suspect$"))
    expect(page.get_by_role("status")).to_contain_text("2 domain(s) disabled")
    visit.seen("domains-bulk-done")
    disabled = Domain.objects.filter(enabled=False).values_list("did", flat=True)
    assert sorted(disabled) == ["voice1.example.net", "voice4.example.net", "voice7.example.net"]
