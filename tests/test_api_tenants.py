"""The tenants resource: operators list, create, read and change tenants (what each may
hold included) and invite their owners; tenants get none of it."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from domains.dns.claims import domain_claim_start
from domains.models import Tenant
from domains.services import domain_create
from tests.api_helpers import client_for


@pytest.fixture
def operator(alice):
    return client_for(alice)


def test_the_list_shows_what_each_tenant_holds_in_a_fixed_number_of_queries(
    operator, alice, bob, charlie
):
    bobs = Tenant.objects.get(owner=bob)
    domain_create(actor=alice, name="bob.example.com", tenant=bobs)
    domain_claim_start(actor=bob, tenant=bobs, name="voice.example.org")

    with CaptureQueriesContext(connection) as few:
        rows = operator.get("/api/v1/tenants/").json()["results"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["bob-corp"] == {
        "id": bobs.pk,
        "name": "bob-corp",
        "owner": "bob",
        "email": "bob@tenant.test",
        "active": True,
        "confirmed": True,
        "domains": 1,
        "claims": 1,
        "domain_quota": bobs.domain_quota,
        "pending_claim_limit": bobs.pending_claim_limit,
        "created_at": by_name["bob-corp"]["created_at"],
    }
    assert by_name["charlie-corp"]["domains"] == 0

    for i in range(5):
        operator.post("/api/v1/tenants/", {"name": f"t{i}", "owner": f"owner{i}"}, format="json")
    with CaptureQueriesContext(connection) as more:
        assert len(operator.get("/api/v1/tenants/").json()["results"]) == 7
    assert len(more) == len(few)


def test_an_operator_changes_what_a_tenant_may_hold(operator, bob):
    bobs = Tenant.objects.get(owner=bob)
    answer = operator.patch(
        f"/api/v1/tenants/{bobs.pk}/", {"domain_quota": 3, "pending_claim_limit": 1}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["domain_quota"], answer.json()["pending_claim_limit"]) == (3, 1)
    assert answer.json()["name"] == "bob-corp" and answer.json()["email"] == "bob@tenant.test"
    entry = AuditEntry.objects.get(action="tenant.update")
    assert entry.after == {"domain_quota": 3, "pending_claim_limit": 1}

    renamed = operator.patch(f"/api/v1/tenants/{bobs.pk}/", {"name": "Bob Corp"}, format="json")
    assert renamed.json()["name"] == "Bob Corp" and renamed.json()["domain_quota"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"domain_quota": -1}, "domain_quota"),
        ({"pending_claim_limit": 1_000_001}, "pending_claim_limit"),
        ({"email": "not-an-address"}, "email"),
        ({"name": ""}, "name"),
        ({"name": "charlie-corp"}, "name"),
    ],
)
def test_a_bad_change_answers_400_naming_its_field_and_changes_nothing(
    operator, bob, charlie, body, field
):
    bobs = Tenant.objects.get(owner=bob)
    answer = operator.patch(f"/api/v1/tenants/{bobs.pk}/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["fields"], answer.json()
    fresh = Tenant.objects.select_related("owner").get(pk=bobs.pk)
    assert (fresh.name, fresh.owner.email, fresh.domain_quota) == (
        "bob-corp",
        "bob@tenant.test",
        bobs.domain_quota,
    )
    assert not AuditEntry.objects.filter(action="tenant.update").exists()


def test_an_operator_invites_a_tenants_owner(operator, alice, mailoutbox):
    made = operator.post(
        "/api/v1/tenants/", {"name": "Dora", "owner": "dora", "email": "d@t.test"}, format="json"
    ).json()
    answer = operator.post(f"/api/v1/tenants/{made['id']}/invite/")
    assert answer.status_code == 200 and answer.json() == {"sent_to": "d@t.test"}
    [mail] = mailoutbox
    assert re.search(r"http://testserver/accounts/password/reset/key/\S+", mail.body)
    assert operator.post("/api/v1/tenants/999999/invite/").status_code == 404


def test_tenants_get_403_and_nothing_changes(bob, charlie, mailoutbox):
    bobs = Tenant.objects.get(owner=bob)
    for user in (bob, charlie):
        client = client_for(user)
        assert client.get(f"/api/v1/tenants/{bobs.pk}/").status_code == 403
        answer = client.patch(f"/api/v1/tenants/{bobs.pk}/", {"domain_quota": 999}, format="json")
        assert answer.status_code == 403
        assert client.post(f"/api/v1/tenants/{bobs.pk}/invite/").status_code == 403
    assert Tenant.objects.get(pk=bobs.pk).domain_quota != 999 and mailoutbox == []
