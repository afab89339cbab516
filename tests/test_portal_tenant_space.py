"""The rest of a tenant's space: its subscribers (the operators' pages, scoped to its
domains: another's domain is one that does not exist), its API tokens (the key shown
once), and its history (its own entries, other people named by role)."""

import pytest
from django.test import Client

from api.models import ApiToken
from audit.models import AuditEntry
from domains.models import Tenant
from domains.services import domain_attribute_set, domain_create
from subscribers.models import Subscriber, UserAlias
from subscribers.services import subscriber_create
from tests.portal_helpers import SIGN_IN, elements, flash_messages, page_tree, text_of


@pytest.fixture
def world(alice, bob, charlie):
    mine = domain_create(actor=alice, name="bob.example.com", tenant=bob.tenant)
    theirs = domain_create(actor=alice, name="charlie.example.com", tenant=charlie.tenant)
    subscriber_create(actor=alice, domain=mine, username="sam", password="sam-secret-1")
    subscriber_create(actor=alice, domain=theirs, username="tom", password="tom-secret-1")
    return mine, theirs


@pytest.fixture
def signed_in(client, bob):
    client.force_login(bob)
    return client


def error_of(page, field: str) -> str:
    [error] = elements(page_tree(page), "small", id=f"id_{field}_error")
    return text_of(error)


def test_a_tenant_lists_only_the_subscribers_of_its_domains(signed_in, world):
    page = signed_in.get("/my/subscribers/")
    assert "sam@bob.example.com" in page.text
    assert "tom" not in page.text and "charlie.example.com" not in page.text
    assert 'href="/my/subscribers/' in page.text and 'href="/subscribers/' not in page.text


@pytest.mark.parametrize("query", ["q=tom@charlie.example.com", "domain=charlie.example.com"])
def test_another_tenants_domain_is_one_that_does_not_exist(signed_in, world, query):
    refused = signed_in.get(f"/my/subscribers/?{query}")
    unknown = signed_in.get(f"/my/subscribers/?{query.replace('charlie', 'nobody')}")
    field = query.partition("=")[0]
    assert error_of(refused, field) == "no domain is named charlie.example.com"
    assert error_of(unknown, field) == "no domain is named nobody.example.com"
    assert "tom" not in refused.text.replace("tom@charlie", "")


def test_a_name_that_is_another_tenants_domain_is_not_offered(signed_in, world):
    page = signed_in.get("/my/subscribers/?q=charlie.example.com")
    assert "is a domain" not in page.text
    page = signed_in.get("/my/subscribers/?q=bob.example.com")
    assert "bob.example.com is a domain" in " ".join(page.text.split())


def test_a_tenant_adds_a_subscriber_to_its_domain_only(signed_in, world, bob):
    page = signed_in.post(
        "/my/subscribers/add/",
        {"domain": "charlie.example.com", "username": "eve", "password": "eve-secret-1"},
    )
    assert error_of(page, "domain") == "no domain is named charlie.example.com"
    assert not Subscriber.objects.filter(username="eve").exists()

    page = signed_in.post(
        "/my/subscribers/add/",
        {"domain": "bob.example.com", "username": "eve", "password": "eve-secret-1"},
        follow=True,
    )
    eve = Subscriber.objects.get(username="eve")
    assert page.redirect_chain[-1][0] == f"/my/subscribers/{eve.pk}/"
    assert flash_messages(page)[0].startswith("Subscriber eve@bob.example.com added")
    entry = AuditEntry.objects.get(action="subscriber.create", object_repr__contains="eve")
    assert (entry.actor, entry.channel, entry.tenant) == (bob, "web", bob.tenant)


def test_a_tenant_changes_its_subscriber_through_the_same_pages(signed_in, world):
    sam = Subscriber.objects.get(username="sam")
    base = f"/my/subscribers/{sam.pk}/"
    page = signed_in.post(base + "valid-from/", {"from_user": "+4930123"}, follow=True)
    assert "sam@bob.example.com may now present From user +4930123" in flash_messages(page)[0]
    page = signed_in.post(base + "aliases/", {"username": "100", "domain": "charlie.example.com"})
    assert error_of(page, "domain") == "no domain is named charlie.example.com"
    page = signed_in.post(base + "aliases/", {"username": "100"}, follow=True)
    assert flash_messages(page)[0].startswith("100@bob.example.com now leads to sam@")
    assert UserAlias.objects.get(username="100").domain.did == "bob.example.com"
    page = signed_in.post(base + "enabled/", {"enabled": "false"}, follow=True)
    assert flash_messages(page)[0].startswith("Subscriber sam@bob.example.com disabled")
    # The registrations panel names a proxy that does not answer, not why.
    assert signed_in.get(base + "registrations/").status_code == 200
    page = signed_in.post(base + "delete/", follow=True)
    assert page.redirect_chain[-1][0] == "/my/subscribers/?domain=bob.example.com"
    assert not Subscriber.objects.filter(pk=sam.pk).exists()


def test_another_tenants_subscriber_is_404(signed_in, world):
    tom = Subscriber.objects.get(username="tom")
    for tail in ("", "delete/", "registrations/"):
        assert signed_in.get(f"/my/subscribers/{tom.pk}/{tail}").status_code == 404
    assert signed_in.post(f"/my/subscribers/{tom.pk}/enabled/", {"enabled": "false"}).status_code
    tom.refresh_from_db()
    assert tom.enabled
    # And an operator's address stays the operators'.
    assert signed_in.get(f"/subscribers/{tom.pk}/").status_code == 404


def test_a_token_is_created_shown_once_and_revoked(signed_in, bob, world):
    page = signed_in.post("/my/tokens/", {"name": "billing"})
    token = ApiToken.objects.get(user=bob)
    [key] = elements(page_tree(page), "code", id="new-key")
    key = text_of(key)
    assert key.startswith(token.prefix + ".")
    assert "no-store" in page["Cache-Control"]
    assert key not in signed_in.get("/my/tokens/").text
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert [d["did"] for d in api.get("/api/v1/domains/").json()["results"]] == ["bob.example.com"]

    page = signed_in.post(f"/my/tokens/{token.pk}/revoke/", follow=True)
    assert flash_messages(page) == [f"Token billing ({token.prefix}) revoked: it works no more."]
    assert api.get("/api/v1/domains/").status_code == 401
    entry = AuditEntry.objects.get(action="token.revoke")
    assert entry.actor == bob and entry.channel == "web"


def test_a_token_without_a_name_is_refused_next_to_the_field(signed_in, bob):
    page = signed_in.post("/my/tokens/", {"name": "  "})
    assert error_of(page, "name") == "This field is required."
    assert not ApiToken.objects.exists()


def test_another_tenants_token_is_404(signed_in, charlie):
    from api.services import token_create

    token, _key = token_create(actor=None, user=charlie, name="theirs")
    assert signed_in.post(f"/my/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "theirs" not in signed_in.get("/my/tokens/").text


def test_the_history_shows_the_tenants_own_entries(signed_in, world, alice, bob):
    mine, theirs = world
    domain_attribute_set(actor=alice, domain=mine, name="max_contacts", value="2")
    domain_attribute_set(actor=alice, domain=theirs, name="max_contacts", value="9")
    signed_in.post("/my/claims/add/", {"name": "voice.example.org"})

    page = signed_in.get("/my/history/")
    rows = [
        " ".join(text_of(row).split())
        for row in elements(page_tree(page), "tr")
        if list(elements(row, "td"))
    ]
    [claim] = [row for row in rows if "domain.claim_start" in row]
    assert "bob web" in claim and "voice.example.org" in claim
    [attribute] = [row for row in rows if "domain.attr_set" in row]
    assert "operator" in attribute and "alice" not in attribute
    assert "attributes.max_contacts[operator] set to 2" in attribute
    assert "charlie" not in page.text and "set to 9" not in page.text


def test_anonymous_visitors_are_sent_to_the_sign_in(client, db):
    for url in ["/my/tokens/", "/my/history/", "/my/subscribers/", "/my/subscribers/add/"]:
        answer = client.get(url)
        assert answer.status_code == 302 and answer.url.startswith(f"{SIGN_IN}?next="), url


def test_an_operator_gets_404_on_a_tenants_pages(client, alice):
    client.force_login(alice)
    for url in ["/my/tokens/", "/my/history/", "/my/subscribers/", "/my/claims/add/"]:
        assert client.get(url).status_code == 404, url
    assert Tenant.objects.count() == 0
