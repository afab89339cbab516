"""A tenant's domains: the list (state, DNS status, the record that fails) in a fixed
number of queries, a domain's page (who serves it, its records, "check now", attributes),
releasing a domain, and the banner a suspect domain puts on every page of the tenant's."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from domains.models import (
    Domain,
    DomainAttribute,
    DomainCheck,
    DomainClaim,
    DomainOrigin,
    DomainState,
    Tenant,
)
from domains.services import domain_create, domain_disable
from portal.views.tenant import domains as tenant_domains
from proxies.models import Proxy, ProxyTransport
from proxies.services import proxy_create
from subscribers.models import Subscriber
from subscribers.services import subscriber_create
from tests.portal_helpers import attrs_of, elements, flash_messages, page_tree, text_of

# What a check saw of a domain whose SRV records are gone.
GONE = {
    "domain": "gone.bob.example.com",
    "verdict": "absent",
    "reason": "no NAPTR, no SRV and no address records",
    "naptr": {"name": "gone.bob.example.com", "type": "NAPTR", "status": "nodata"},
    "srv": [
        {"name": f"{prefix}.gone.bob.example.com", "type": "SRV", "status": "nxdomain"}
        for prefix in ("_sips._tcp", "_sip._tcp", "_sip._udp")
    ],
}


def words(element) -> str:
    """An element's text as read: white space folded, none before punctuation."""
    return re.sub(r"\s+([:,.)])", r"\1", " ".join(text_of(element).replace("\xa0", " ").split()))


def domains_table(page):
    return next(elements(page_tree(page), "div", **{"aria-label": "Your domains"}))


@pytest.fixture
def bobs(bob) -> Tenant:
    return Tenant.objects.get(owner=bob)


@pytest.fixture
def mine(alice, bobs) -> Domain:
    domain = domain_create(
        actor=alice,
        name="bob.example.com",
        aliases=["sip.bob.example.com", "192.0.2.44"],
        tenant=bobs,
        origin=DomainOrigin.TENANT,
    )
    subscriber_create(actor=alice, domain=domain, username="sam", password="sam-secret-1")
    return domain


def suspect(alice, bobs, *, first_negative_hours: int = 10) -> Domain:
    domain = domain_create(
        actor=alice, name="gone.bob.example.com", tenant=bobs, state=DomainState.SUSPECT
    )
    at = timezone.now() - timedelta(hours=first_negative_hours)
    DomainCheck.objects.create(
        domain=domain,
        verdict="absent",
        outcome="negative",
        reason=GONE["reason"],
        evidence=GONE,
        checked_at=at,
        negatives=1,
        first_negative_at=at,
        last_negative_at=at,
    )
    return domain


def test_a_tenant_sees_its_domains_and_nobody_elses(client, alice, bob, charlie, bobs, mine):
    off = domain_create(actor=alice, name="off.bob.example.com", tenant=bobs)
    domain_disable(actor=alice, domain=off)
    domain_create(actor=alice, name="operator.example.com")
    domain_create(actor=alice, name="charlie.example.com", tenant=Tenant.objects.get(owner=charlie))

    client.force_login(bob)
    page = client.get("/my/domains/").text.replace("\xa0", " ")
    assert "bob-corp" in page
    assert "bob.example.com" in page and "sip.bob.example.com" in page and "192.0.2.44" in page
    assert "no, switched off by an operator" in page
    assert "operator.example.com" not in page and "charlie.example.com" not in page
    assert "sam-secret-1" not in page
    assert 'href="/my/domains/bob.example.com/"' in page

    client.force_login(charlie)
    page = client.get("/my/domains/").text
    assert "charlie.example.com" in page and "bob.example.com" not in page


def test_a_tenant_with_nothing_is_told_so(client, charlie):
    client.force_login(charlie)
    assert "You have no domains yet" in client.get("/my/domains/").text


def test_the_list_shows_the_dns_status_and_the_record_that_fails(
    client, alice, bob, bobs, mine, settings
):
    settings.SERWEB_PROXY_HOSTNAMES = ["proxy1.serweb.test"]
    settings.SERWEB_SIP_TRANSPORTS = ["udp:5060"]
    suspect(alice, bobs)
    client.force_login(bob)
    table = domains_table(client.get("/my/domains/"))
    rows = {
        words(next(elements(row, "th"))): words(row)
        for row in elements(table, "tr")
        if list(elements(row, "td"))
    }
    gone = rows["gone.bob.example.com"]
    assert "suspect" in gone and "nothing published" in gone
    assert "failing: SRV _sip._udp.gone.bob.example.com" in gone
    assert "not checked yet" in rows["bob.example.com"]
    # The domain's page says what was expected and what was found.
    page = client.get("/my/domains/gone.bob.example.com/")
    dns = words(next(elements(page_tree(page), "section", **{"aria-labelledby": "dns-heading"})))
    assert (
        "SRV _sip._udp.gone.bob.example.com: expected 10 10 5060 proxy1.serweb.test., "
        "found nothing (the name does not exist)"
    ) in dns


def test_the_list_is_searched_by_state_and_name_start(client, alice, bob, bobs, mine):
    suspect(alice, bobs)
    client.force_login(bob)
    page = client.get("/my/domains/?state=suspect").text
    assert "gone.bob.example.com" in page and 'href="/my/domains/bob.example.com/"' not in page
    page = client.get("/my/domains/?search=sip.bob")
    listed = words(domains_table(page))
    assert "bob.example.com" in listed and "gone.bob" not in listed
    page = client.get("/my/domains/?state=nonsense")
    [error] = elements(page_tree(page), "small", id="id_state_error")
    assert "Select a valid choice" in text_of(error)


def test_many_domains_come_in_pages_in_a_fixed_number_of_queries(client, alice, bob, monkeypatch):
    monkeypatch.setattr(tenant_domains, "PAGE_SIZE", 3)
    bobs = Tenant.objects.get(owner=bob)
    for i in range(4):
        domain = domain_create(
            actor=alice,
            name=f"d{i}.bob.example.com",
            aliases=[f"a{i}.bob.example.com"],
            tenant=bobs,
        )
        DomainCheck.objects.create(domain=domain, evidence=GONE, outcome="negative")
    client.force_login(bob)

    with CaptureQueriesContext(connection) as first_page:
        first = client.get("/my/domains/")
    assert "d0.bob.example.com" in first.text and "d3.bob.example.com" not in first.text
    [next_link] = elements(page_tree(first), "a", rel="next")
    # Pages follow a cursor: the next one starts after the last domain shown.
    assert attrs_of(next_link)["href"].startswith("?after=")
    second = client.get("/my/domains/" + attrs_of(next_link)["href"]).text
    assert "d3.bob.example.com" in second and "d0.bob.example.com" not in second
    assert "d0.bob.example.com" in client.get("/my/domains/?after=x").text
    filtered = client.get("/my/domains/?state=active")
    [kept] = elements(page_tree(filtered), "a", rel="next")
    assert attrs_of(kept)["href"].startswith("?state=active&after=")

    for i in range(4, 10):
        domain_create(actor=alice, name=f"d{i}.bob.example.com", tenant=bobs)
        DomainClaim.objects.create(
            tenant=bobs, name=f"c{i}.example.org", token="t", expires_at=timezone.now()
        )
    with CaptureQueriesContext(connection) as again:
        client.get("/my/domains/")
    assert len(again) == len(first_page)


def test_the_domain_page_says_which_proxy_serves_it(client, alice, bob, mine, tmp_path):
    proxy_create(
        actor=alice, name="edge-1", transport=ProxyTransport.FIFO, address=str(tmp_path / "f")
    )
    proxy_create(
        actor=alice, name="edge-2", transport=ProxyTransport.FIFO, address=str(tmp_path / "g")
    )
    Proxy.objects.filter(name="edge-1").update(applied_changed_at=timezone.now())
    client.force_login(bob)

    page = client.get("/my/domains/bob.example.com/")
    serving = words(next(elements(page_tree(page), "section", id="serving")))
    assert "Proxy edge-1: serves it" in serving
    assert "edge-2" in serving and "not yet: at its next reload" in serving
    # Polled until every proxy serves it; the panel alone for htmx.
    assert 'hx-get="/my/domains/bob.example.com/proxies/"' in page.text
    panel = client.get("/my/domains/bob.example.com/proxies/", HTTP_HX_REQUEST="true")
    assert panel.text.lstrip().startswith('<section id="serving"')
    Proxy.objects.update(applied_changed_at=timezone.now())
    panel = client.get("/my/domains/bob.example.com/proxies/", HTTP_HX_REQUEST="true")
    assert "hx-get" not in panel.text


def test_the_domain_page_shows_its_names_records_and_subscribers(client, bob, mine):
    client.force_login(bob)
    page = client.get("/my/domains/bob.example.com/")
    assert page.status_code == 200
    assert "sip.bob.example.com" in page.text and "192.0.2.44" in page.text
    assert 'id="records-panel"' in page.text and "Check now" in page.text
    assert 'href="/my/subscribers/?domain=bob.example.com"' in page.text
    assert "sam-secret-1" not in page.text


def test_a_tenant_sets_and_removes_an_attribute(client, bob, mine):
    client.force_login(bob)
    page = client.post(
        "/my/domains/bob.example.com/attributes/",
        {"name": "max_contacts", "value": "3"},
        follow=True,
    )
    assert flash_messages(page)[0].startswith("max_contacts of bob.example.com set to 3.")
    assert DomainAttribute.objects.get(domain=mine, name="max_contacts").value == "3"
    entry = AuditEntry.objects.filter(action="domain.attr_set").latest("id")
    assert (entry.actor, entry.channel, entry.tenant) == (bob, "web", mine.tenant)

    page = client.post("/my/domains/bob.example.com/attributes/max_contacts/remove/", follow=True)
    assert "back to its default" in flash_messages(page)[0]
    assert not DomainAttribute.objects.filter(domain=mine).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "max_contacts", "value": "lots"}, "value", "not an integer"),
        ({"name": "max_contacts", "value": ""}, "value", "required"),
        ({"name": "did", "value": "x"}, "name", "Select a valid choice"),
        ({"name": "realm", "value": "charlie.example.com"}, "value", "not a name of one of your"),
    ],
)
def test_a_bad_attribute_is_told_next_to_its_field(
    client, bob, mine, alice, charlie, data, field, message
):
    domain_create(actor=alice, name="charlie.example.com", tenant=charlie.tenant)
    client.force_login(bob)
    page = client.post("/my/domains/bob.example.com/attributes/", data)
    assert page.status_code == 200
    [error] = elements(page_tree(page), "small", id=f"id_{field}_error")
    assert message in text_of(error)
    assert not DomainAttribute.objects.filter(domain=mine).exists()


def test_releasing_asks_first_then_deletes_the_domain_and_its_claim(client, bob, bobs, mine):
    DomainClaim.objects.create(
        tenant=bobs, name="bob.example.com", token="t", domain=mine, verified_at=timezone.now()
    )
    client.force_login(bob)
    ask = client.get("/my/domains/bob.example.com/release/")
    assert "1 subscriber" in ask.text and "sip.bob.example.com" in ask.text

    page = client.post("/my/domains/bob.example.com/release/", follow=True)
    assert flash_messages(page) == [
        "Released bob.example.com: it is no longer served, and its 1 subscriber(s) and "
        "0 user alias(es) are deleted."
    ]
    assert not Domain.objects.filter(did="bob.example.com").exists()
    assert not Subscriber.objects.exists() and not DomainClaim.objects.exists()
    entry = AuditEntry.objects.get(action="domain.delete")
    assert (entry.actor, entry.tenant) == (bob, bobs)


def test_a_suspect_domain_puts_a_banner_on_every_page_of_the_tenant(client, alice, bob, bobs):
    suspect(alice, bobs)
    client.force_login(bob)
    for url in ["/my/domains/", "/my/tokens/", "/my/history/", "/my/subscribers/"]:
        page = client.get(url)
        [banner] = elements(page_tree(page), "section", class_="dns-alerts")
        said = words(banner)
        assert "gone.bob.example.com is suspect" in said, url
        assert "no NAPTR, no SRV and no address records" in said
        assert "serweb may switch it off from" in said and "in 2 days, 13 hours" in said
        assert "Check now" in said
    client.force_login(alice)
    assert "dns-alerts" not in client.get("/dashboard/").text


def test_the_banner_names_each_failing_record_expected_and_found(
    client, alice, bob, bobs, settings
):
    settings.SERWEB_PROXY_HOSTNAMES = ["proxy1.serweb.test"]
    settings.SERWEB_SIP_TRANSPORTS = ["udp:5060"]
    suspect(alice, bobs)
    client.force_login(bob)
    [banner] = elements(page_tree(client.get("/my/domains/")), "section", class_="dns-alerts")
    assert (
        "SRV _sip._udp.gone.bob.example.com: expected 10 10 5060 proxy1.serweb.test., "
        "found nothing (the name does not exist)"
    ) in words(banner)


def test_nobody_else_reaches_a_domain_page(client, charlie, mine):
    client.force_login(charlie)
    for tail in ("", "zone.txt", "status/", "proxies/", "release/"):
        assert client.get(f"/my/domains/bob.example.com/{tail}").status_code == 404, tail
    for tail in ("check/", "attributes/", "attributes/max_contacts/remove/", "release/"):
        assert client.post(f"/my/domains/bob.example.com/{tail}").status_code == 404, tail
    assert Domain.objects.filter(pk=mine.pk).exists()


def test_a_nul_in_an_address_or_a_search_is_not_found_or_refused(client, bob, mine):
    client.force_login(bob)
    assert client.get("/my/domains/bob%00.example.com/").status_code == 404
    assert client.post("/my/domains/bob.example.com/attributes/a%00/remove/").status_code == 404
    page = client.get("/my/domains/?search=bob%00")
    [error] = elements(page_tree(page), "small", id="id_search_error")
    assert "Null characters are not allowed" in text_of(error)
