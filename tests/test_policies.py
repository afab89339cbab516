"""domains/policies.py: who may do what, one answer whether the service is called by the API,
a command or a page."""

import pytest
from django.core.exceptions import PermissionDenied

from domains.dns.claims import domain_claim_start
from domains.models import Domain, DomainName, DomainOrigin, Tenant
from domains.policies import claim_tenant
from domains.services import domain_create, domain_name_add
from tests.api_helpers import client_for, world  # noqa: F401

CREATE_REFUSED = "tenants get domains through claims, proving in DNS that they own them"
NAME_REFUSED = "only operators add names without DNS verification"


def test_a_tenant_creates_no_domain_directly_whichever_the_door(world, bob):  # noqa: F811
    with pytest.raises(PermissionDenied, match=CREATE_REFUSED):
        domain_create(actor=bob, name="mine.example")

    response = client_for(bob).post("/api/v1/domains/", {"name": "mine.example"}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == CREATE_REFUSED
    assert not Domain.objects.filter(did="mine.example").exists()


def test_a_tenants_domain_comes_from_its_claim(world, bob):  # noqa: F811
    tenant = Tenant.objects.get(owner=bob)
    granted = domain_create(
        actor=bob, name="claimed.example", tenant=tenant, origin=DomainOrigin.TENANT
    )
    assert granted.tenant == tenant


@pytest.mark.parametrize("tenant", ["charlie-corp", "no-such-corp"])
def test_a_tenant_learns_nothing_of_other_tenants_from_a_refused_creation(world, bob, tenant):  # noqa: F811
    body = {"name": "mine.example", "tenant": tenant}
    response = client_for(bob).post("/api/v1/domains/", body, format="json")
    assert (response.status_code, response.json()["detail"]) == (403, CREATE_REFUSED)


def test_a_tenant_adds_no_name_without_dns_whichever_the_door(world, bob):  # noqa: F811
    with pytest.raises(PermissionDenied, match=NAME_REFUSED):
        domain_name_add(actor=bob, domain=world["bob_domain"], name="voice.bob.example")

    response = client_for(bob).post(
        "/api/v1/domains/bob.example/names/", {"name": "voice.bob.example"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["detail"] == NAME_REFUSED
    assert not DomainName.objects.filter(name="voice.bob.example").exists()


def test_the_operators_and_the_cli_add_names(world, alice):  # noqa: F811
    for actor in (alice, None):
        name = f"{'cli' if actor is None else 'op'}.bob.example"
        added = domain_name_add(actor=actor, domain=world["bob_domain"], name=name)
        assert added.domain == world["bob_domain"]


def test_only_tenants_claim(world, alice, bob):  # noqa: F811
    assert claim_tenant(bob) == Tenant.objects.get(owner=bob)
    with pytest.raises(PermissionDenied, match="only tenants claim domains"):
        claim_tenant(alice)

    response = client_for(alice).post("/api/v1/claims/", {"name": "x.example"}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == "only tenants claim domains; operators create them"


def test_a_claim_by_the_tenant_goes_through(world, bob):  # noqa: F811
    claim = domain_claim_start(actor=bob, tenant=claim_tenant(bob), name="shop.bob-claims.net")
    assert claim.tenant.owner == bob
