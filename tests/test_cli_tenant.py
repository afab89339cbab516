"""The `tenant` command: tenants and their owners' logins."""

import json
import re

import pytest
from django.contrib.auth import authenticate, get_user_model

from api.authentication import TokenAuthentication
from api.services import token_create
from audit.models import AuditEntry
from domains.models import Domain, Tenant
from domains.services import domain_create, tenant_create
from tests.test_cli import run, snapshot

PASSWORD = "a long tenant secret"


@pytest.fixture
def bob_tenant(db):
    return tenant_create(actor=None, name="Bob's Telephony", owner_username="bob")


def test_tenant_add_creates_the_tenant_and_an_owner_who_can_log_in(db):
    result = run(
        "tenant", "add", "Bob's Telephony", "--owner", "bob", "--email", "bob@example.org",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip

    assert result.code == 0, result.err
    assert result.out == "created tenant Bob's Telephony: owner bob, with a password\n"
    tenant = Tenant.objects.get()
    assert (tenant.name, tenant.owner.username, tenant.owner.email) == (
        "Bob's Telephony",
        "bob",
        "bob@example.org",
    )
    assert authenticate(username="bob", password=PASSWORD) == tenant.owner
    assert not tenant.owner.is_staff
    assert PASSWORD not in json.dumps(list(AuditEntry.objects.values("before", "after")))


@pytest.mark.parametrize(
    "args, message",
    [
        (["tenant", "add", "", "--owner", "x"], "name: a tenant needs a name"),
        (["tenant", "add", "bob's telephony", "--owner", "x"], "exists already"),
        (["tenant", "add", "Other", "--owner", "bob"], "owner: the account 'bob' is taken"),
        (["tenant", "add", "Other", "--owner", "b b"], "owner: Enter a valid username"),
        (["tenant", "add", "Other", "--owner", "x", "--password", "short"], "too short"),
        (["tenant", "passwd", "bob", "--password", "password"], "too common"),
        (["tenant", "show", "nobody"], "no tenant named 'nobody'"),
        (["tenant", "disable", "nobody"], "no tenant named 'nobody'"),
    ],
)
def test_bad_tenant_commands_are_refused_and_write_nothing(bob_tenant, args, message):
    before = snapshot(), list(Tenant.objects.values_list("name", "owner__username"))

    result = run(*args)

    assert result.code == 1
    assert message in result.err
    assert (snapshot(), list(Tenant.objects.values_list("name", "owner__username"))) == before


def test_tenant_list_and_show(bob_tenant):
    domain_create(actor=None, name="bob.example.org", tenant=bob_tenant, origin="tenant")

    listed = run("tenant", "list", "--json")
    shown = run("tenant", "show", "bob", "--json")

    assert json.loads(listed.out) == [
        {"name": "Bob's Telephony", "owner": "bob", "active": True, "domains": 1,
         "pending_claims": 0}
    ]  # fmt: skip
    data = json.loads(shown.out)
    assert data["domains"] == {"active": 1}
    assert data["can_log_in"] is False  # no password yet
    assert run("tenant", "show", "Bob's Telephony").out.splitlines()[0] == (
        "name:           Bob's Telephony"
    )


def test_tenant_disable_stops_logins_and_tokens_and_enable_brings_them_back(bob_tenant):
    run("tenant", "passwd", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    domain_create(actor=None, name="bob.example.org", tenant=bob_tenant, origin="tenant")
    _token, key = token_create(actor=None, user=bob_tenant.owner, name="automation")

    disabled = run("tenant", "disable", "bob")

    assert disabled.code == 0
    assert "can no longer log in or use API tokens" in disabled.out
    assert authenticate(username="bob", password=PASSWORD) is None
    assert _token_user(key) is None
    assert Domain.objects.get(did="bob.example.org").enabled  # domains stay without --domains

    enabled = run("tenant", "enable", "bob")

    assert enabled.code == 0
    assert authenticate(username="bob", password=PASSWORD) is not None
    assert _token_user(key) == bob_tenant.owner


def test_tenant_disable_with_domains_switches_its_domains_off(bob_tenant):
    domain_create(actor=None, name="bob.example.org", tenant=bob_tenant, origin="tenant")
    domain_create(actor=None, name="other.example.org")

    result = run("tenant", "disable", "bob", "--domains")

    assert result.code == 0
    assert result.out.endswith("; disabled 1 domain\n")
    assert not Domain.objects.get(did="bob.example.org").enabled
    assert Domain.objects.get(did="other.example.org").enabled
    actions = list(AuditEntry.objects.values_list("action", flat=True).order_by("id"))
    assert actions[-2:] == ["tenant.disable", "domain.disable"]

    run("tenant", "enable", "bob", "--domains")

    assert Domain.objects.get(did="bob.example.org").enabled


def _token_user(key: str):
    from django.test import RequestFactory
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request

    request = Request(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {key}"))
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def test_tenant_invite_mails_a_link_at_the_public_address(bob_tenant, settings, mailoutbox):
    settings.SERWEB_PUBLIC_URL = "https://serweb.example.net/portal/"
    refused = run("tenant", "invite", "bob")
    assert refused.code != 0 and "the owner has no e-mail address to invite" in refused.err
    get_user_model().objects.filter(pk=bob_tenant.owner_id).update(email="bob@example.org")

    result = run("tenant", "invite", "bob")

    assert result.code == 0, result.err
    assert result.out == "invited bob: a link to choose a password went to bob@example.org\n"
    [mail] = mailoutbox
    [link] = re.findall(r"https://\S+", mail.body)
    assert link.startswith("https://serweb.example.net/portal/accounts/password/reset/key/")
    assert link.split("/")[-2] not in result.out
    assert AuditEntry.objects.filter(action="tenant.invite", channel="cli").count() == 1


def test_tenant_add_invite_needs_the_public_address(db, settings, mailoutbox):
    settings.SERWEB_PUBLIC_URL = ""
    result = run("tenant", "add", "Dora", "--owner", "dora", "--email", "d@t.test", "--invite")
    assert result.code != 0 and "SERWEB_PUBLIC_URL is not set" in result.err
    # The tenant is made; the invitation can follow once the address is set.
    assert "created tenant Dora" in result.out and mailoutbox == []
    settings.SERWEB_PUBLIC_URL = "https://serweb.example.net"
    assert run("tenant", "invite", "Dora").code == 0 and len(mailoutbox) == 1


def test_tenant_limits_change_what_it_may_hold_and_show_says_so(bob_tenant):
    result = run("tenant", "limits", "bob", "--domain-quota", "3", "--pending-claim-limit", "1")
    assert result.code == 0, result.err
    assert result.out == (
        "tenant Bob's Telephony may hold 3 domains and claims together, 1 claim waiting at once\n"
    )
    shown = json.loads(run("tenant", "show", "bob", "--json").out)
    assert (shown["domain_quota"], shown["pending_claim_limit"]) == (3, 1)
    assert shown["confirmed"] is True

    refused = run("tenant", "limits", "bob", "--domain-quota", "-1")
    assert refused.code != 0 and "--domain-quota: between 0 and 1000000" in refused.err, refused.err
    assert Tenant.objects.get(pk=bob_tenant.pk).domain_quota == 3
