"""A tenant's own space: its domains, read-only, and nobody else's."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.models import DomainOrigin, Tenant
from domains.services import domain_create, domain_disable
from portal.views.tenant import domains as tenant_domains
from subscribers.services import subscriber_create


def test_a_tenant_sees_its_domains_and_nobody_elses(client, alice, bob, charlie):
    bobs = Tenant.objects.get(owner=bob)
    mine = domain_create(
        actor=alice,
        name="bob.example.com",
        aliases=["sip.bob.example.com", "192.0.2.44"],
        tenant=bobs,
        origin=DomainOrigin.TENANT,
    )
    subscriber_create(actor=alice, domain=mine, username="sam", password="sam-secret-1")
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

    client.force_login(charlie)
    page = client.get("/my/domains/").text
    assert "charlie.example.com" in page and "bob.example.com" not in page


def test_a_tenant_with_nothing_is_told_so(client, charlie):
    client.force_login(charlie)
    assert "You have no domains yet." in client.get("/my/domains/").text


def test_many_domains_come_in_pages_in_a_fixed_number_of_queries(client, alice, bob, monkeypatch):
    monkeypatch.setattr(tenant_domains, "PAGE_SIZE", 3)
    bobs = Tenant.objects.get(owner=bob)
    for i in range(4):
        domain_create(
            actor=alice,
            name=f"d{i}.bob.example.com",
            aliases=[f"a{i}.bob.example.com"],
            tenant=bobs,
        )
    client.force_login(bob)

    with CaptureQueriesContext(connection) as first_page:
        first = client.get("/my/domains/").text
    assert "d0.bob.example.com" in first and "d3.bob.example.com" not in first
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = client.get("/my/domains/?page=2").text
    assert "d3.bob.example.com" in second and "d0.bob.example.com" not in second
    # Out of range or not a number: the last or the first page, never an error.
    assert "d3.bob.example.com" in client.get("/my/domains/?page=99").text
    assert "d0.bob.example.com" in client.get("/my/domains/?page=x").text

    for i in range(4, 10):
        domain_create(actor=alice, name=f"d{i}.bob.example.com", tenant=bobs)
    with CaptureQueriesContext(connection) as again:
        client.get("/my/domains/")
    assert len(again) == len(first_page)
