"""People with API tokens, and the data a tenant and an operator own."""

import pytest
from rest_framework.test import APIClient

from api.services import token_create
from domains.models import DomainOrigin, Tenant
from domains.services import domain_create
from subscribers.services import subscriber_create, user_alias_add


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        _token, key = token_create(actor=None, user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def world(alice, bob, charlie):
    """bob's domain with a subscriber and an alias; an operator domain."""
    bob_domain = domain_create(
        actor=alice,
        name="bob.example",
        aliases=["sip.bob.example"],
        tenant=Tenant.objects.get(owner=bob),
        origin=DomainOrigin.TENANT,
    )
    sam = subscriber_create(actor=alice, domain=bob_domain, username="sam", password="sam-secret")
    user_alias_add(actor=alice, domain=bob_domain, username="100", subscriber=sam)
    domain_create(actor=alice, name="op.example")
    return {"bob_domain": bob_domain, "sam": sam}
