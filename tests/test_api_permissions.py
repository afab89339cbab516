"""Every endpoint and method × anonymous, tenant bob (owner), tenant charlie, operator alice."""

import pytest

from tests.api_helpers import client_for, world  # noqa: F401

D = "/api/v1/domains/bob.example"
S = f"{D}/subscribers/sam"

# (method, path, body, {who: expected status}); "others" is charlie, another tenant.
MATRIX = [
    ("get", "/api/v1/domains/", None, {"bob": 200, "charlie": 200, "alice": 200}),
    (
        "post",
        "/api/v1/domains/",
        {"name": "new.example"},
        {"bob": 403, "charlie": 403, "alice": 201},
    ),
    ("get", f"{D}/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    # Whether a domain is served, its state and its owner are the operators' (400: the field
    # is named); the rest of the fields are tested in test_tenant_may_change_no_domain_field.
    ("patch", f"{D}/", {"enabled": False}, {"bob": 400, "charlie": 404, "alice": 200}),
    ("patch", f"{D}/", {"state": "suspect"}, {"bob": 400, "charlie": 404, "alice": 200}),
    ("patch", f"{D}/", {"tenant": None}, {"bob": 400, "charlie": 404, "alice": 200}),
    ("delete", f"{D}/?force=true", None, {"bob": 204, "charlie": 404, "alice": 204}),
    ("get", f"{D}/names/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    (
        "post",
        f"{D}/names/",
        {"name": "voice.bob.example"},
        {"bob": 403, "charlie": 404, "alice": 201},
    ),
    ("delete", f"{D}/names/sip.bob.example/", None, {"bob": 204, "charlie": 404, "alice": 204}),
    (
        "post",
        f"{D}/names/sip.bob.example/canonical/",
        None,
        {"bob": 200, "charlie": 404, "alice": 200},
    ),
    ("get", f"{D}/attributes/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    (
        "put",
        f"{D}/attributes/max_contacts/",
        {"value": "4"},
        {"bob": 200, "charlie": 404, "alice": 200},
    ),
    ("delete", f"{D}/attributes/max_contacts/", None, {"bob": 400, "charlie": 404, "alice": 400}),
    ("get", f"{D}/subscribers/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    (
        "post",
        f"{D}/subscribers/",
        {"username": "tom", "password": "tom-secret"},
        {"bob": 201, "charlie": 404, "alice": 201},
    ),
    ("get", f"{S}/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    ("patch", f"{S}/", {"email": "sam@bob.example"}, {"bob": 200, "charlie": 404, "alice": 200}),
    ("delete", f"{S}/", None, {"bob": 204, "charlie": 404, "alice": 204}),
    ("get", f"{S}/valid-from/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    (
        "post",
        f"{S}/valid-from/",
        {"from_user": "sales"},
        {"bob": 201, "charlie": 404, "alice": 201},
    ),
    ("delete", f"{S}/valid-from/sam/", None, {"bob": 204, "charlie": 404, "alice": 204}),
    ("get", f"{D}/aliases/", None, {"bob": 200, "charlie": 404, "alice": 200}),
    (
        "post",
        f"{D}/aliases/",
        {"username": "200", "subscriber": "sam"},
        {"bob": 201, "charlie": 404, "alice": 201},
    ),
    ("delete", f"{D}/aliases/100/", None, {"bob": 204, "charlie": 404, "alice": 204}),
    ("get", "/api/v1/tenants/", None, {"bob": 403, "charlie": 403, "alice": 200}),
    (
        "post",
        "/api/v1/tenants/",
        {"name": "dan-corp", "owner": "dan"},
        {"bob": 403, "charlie": 403, "alice": 201},
    ),
    ("get", "/api/v1/proxies/", None, {"bob": 403, "charlie": 403, "alice": 200}),
    (
        "post",
        "/api/v1/proxies/",
        {"name": "p1", "transport": "udp", "address": "127.0.0.1:5090"},
        {"bob": 403, "charlie": 403, "alice": 201},
    ),
    ("get", "/api/v1/audit/", None, {"bob": 200, "charlie": 200, "alice": 200}),
    ("get", "/api/v1/tokens/", None, {"bob": 200, "charlie": 200, "alice": 200}),
    ("post", "/api/v1/tokens/", {"name": "ci"}, {"bob": 201, "charlie": 201, "alice": 201}),
    (
        "post",
        "/api/v1/domains-bulk/",
        [{"name": "bulk.example"}],
        {"bob": 403, "charlie": 403, "alice": 201},
    ),
    # Jobs start after the commit, which these tests never reach: 202, queued.
    ("post", f"{D}/verify/", None, {"bob": 202, "charlie": 404, "alice": 202}),
    ("get", "/api/v1/claims/", None, {"bob": 200, "charlie": 200, "alice": 200}),
    (
        "post",
        "/api/v1/claims/",
        {"name": "shop.bob-claims.net"},
        {"bob": 201, "charlie": 201, "alice": 403},
    ),
    ("post", "/api/v1/reload/", None, {"bob": 403, "charlie": 403, "alice": 202}),
    ("get", "/api/v1/proxy-status/", None, {"bob": 403, "charlie": 403, "alice": 200}),
    ("get", "/api/v1/lookup/?host=bob.example", None, {"bob": 403, "charlie": 403, "alice": 200}),
]


def _call(client, method, path, body):
    return (
        getattr(client, method)(path, body, format="json")
        if body is not None
        else getattr(client, method)(path)
    )


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
@pytest.mark.parametrize("who", ["anonymous", "bob", "charlie", "alice"])
def test_permission_matrix(world, request, who, method, path, body, expected):  # noqa: F811
    user = None if who == "anonymous" else request.getfixturevalue(who)
    response = _call(client_for(user), method, path, body)
    want = 401 if who == "anonymous" else expected[who]
    assert response.status_code == want, response.content


def test_a_user_who_is_neither_operator_nor_tenant_gets_403(db):
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user("nobody")
    assert client_for(nobody).get("/api/v1/domains/").status_code == 403


def test_tenant_lists_only_its_own_domains_and_audit(world, bob, charlie):  # noqa: F811
    bob_client, charlie_client = client_for(bob), client_for(charlie)
    assert [d["did"] for d in bob_client.get("/api/v1/domains/").json()["results"]] == [
        "bob.example"
    ]
    assert charlie_client.get("/api/v1/domains/").json()["results"] == []
    assert {e["did"] for e in bob_client.get("/api/v1/audit/").json()["results"]} == {"bob.example"}
    assert charlie_client.get("/api/v1/audit/").json()["results"] == []


# --- what a tenant may change: the operator's switch stays the operator's -----------------


def everything() -> dict:
    """All a refused change must leave as it was."""
    from audit.models import AuditEntry
    from domains.models import Domain, DomainAttribute, DomainCheck
    from proxies.models import ReloadState
    from subscribers.models import Subscriber

    state = ReloadState.objects.filter(pk=1).first()
    return {
        "domains": list(
            Domain.objects.values_list("did", "enabled", "state", "origin", "tenant_id", "names")
        ),
        "attributes": list(DomainAttribute.objects.values_list("name", "value", "source")),
        "checks": list(DomainCheck.objects.values_list("domain_id", "managed")),
        "subscribers": list(
            Subscriber.objects.values_list("username", "email", "enabled", "ha1", "ha1b")
        ),
        # Each client_for makes a token, an audited write of its own.
        "audit": AuditEntry.objects.exclude(object_type="api_token").count(),
        "generation": state.desired_generation if state else 0,
    }


def refused(response, *fields: str) -> None:
    assert response.status_code == 400, response.content
    assert sorted(response.json()["fields"]) == sorted(fields)


def test_a_tenant_cannot_switch_on_a_domain_an_operator_switched_off(world, alice, bob):  # noqa: F811
    from tests.helpers import proxy_rows

    off = client_for(alice).patch(f"{D}/", {"enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["served"] is False
    before = everything()
    response = client_for(bob).patch(f"{D}/", {"enabled": True}, format="json")
    refused(response, "enabled")
    assert response.json()["fields"]["enabled"] == [
        "only operators decide whether a domain is served"
    ]
    assert everything() == before
    assert "bob.example" not in [did for _name, did in proxy_rows("domain", "domain, did")]
    # Nor with another field beside it: every field is named, nothing is written.
    refused(
        client_for(bob).patch(f"{D}/", {"enabled": True, "state": "active"}, format="json"),
        "enabled",
        "state",
    )
    assert everything() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enabled", True),
        ("enabled", False),
        ("state", "active"),
        ("state", "removed"),
        ("tenant", "charlie-corp"),
        ("tenant", "no-such-corp"),  # refused as a field: no hint which tenants exist
        ("tenant", None),
        ("origin", "operator"),
        ("did", "other.example"),
        ("managed", False),
        ("served", True),
        ("canonical_name", "sip.bob.example"),
        ("names", ["bob.example"]),
        ("attributes", []),
        ("pending_proxies", []),
        ("created_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_a_tenant_may_change_no_field_of_its_domain(world, alice, bob, field, value):  # noqa: F811
    client_for(alice).patch(f"{D}/", {"enabled": False}, format="json")
    before = everything()
    refused(client_for(bob).patch(f"{D}/", {field: value}, format="json"), field)
    assert everything() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("did", "other.example"), ("origin", "tenant"), ("managed", False), ("served", False)],
)
def test_nobody_changes_what_a_domain_update_does_not_change(world, alice, field, value):  # noqa: F811
    before = everything()
    response = client_for(alice).patch(f"{D}/", {field: value}, format="json")
    refused(response, field)
    assert response.json()["fields"][field] == [f"{field} cannot be changed here"]
    assert everything() == before


def test_an_operator_switches_serves_and_gives_a_domain(world, alice, bob):  # noqa: F811
    operator = client_for(alice)
    assert operator.patch(f"{D}/", {"enabled": False}, format="json").json()["served"] is False
    answer = operator.patch(
        f"{D}/", {"enabled": True, "tenant": "charlie-corp"}, format="json"
    ).json()
    assert (answer["served"], answer["tenant"]) == (True, "charlie-corp")
    refused(operator.patch(f"{D}/", {"tenant": "no-such-corp"}, format="json"), "tenant")


@pytest.mark.parametrize(
    "field", ["source", "is_default", "effective", "name", "domain", "updated_at"]
)
def test_an_attribute_put_refuses_what_it_does_not_set(world, bob, field):  # noqa: F811
    before = everything()
    response = client_for(bob).put(
        f"{D}/attributes/max_contacts/", {"value": "4", field: "dns"}, format="json"
    )
    refused(response, field)
    assert everything() == before


@pytest.mark.parametrize(
    "field",
    ["username", "domain", "ha1", "ha1b", "ha1_realm", "valid_from", "needs_new_password"],
)
def test_a_subscriber_patch_refuses_what_it_does_not_set(world, bob, field):  # noqa: F811
    before = everything()
    response = client_for(bob).patch(
        f"{S}/", {"email": "new@bob.example", field: "x"}, format="json"
    )
    refused(response, field)
    assert everything() == before


def test_the_services_give_the_same_answer_to_every_door(world, bob, charlie):  # noqa: F811
    from django.core.exceptions import ValidationError

    from domains import services
    from domains.models import Tenant

    domain = world["bob_domain"]
    before = everything()
    for change in [
        lambda: services.domain_disable(actor=bob, domain=domain),
        lambda: services.domain_enable(actor=bob, domain=domain),
        lambda: services.domain_set_tenant(
            actor=bob, domain=domain, tenant=Tenant.objects.get(owner=charlie)
        ),
        lambda: services.domain_update(actor=bob, domain=domain, changes={"state": "active"}),
    ]:
        with pytest.raises(ValidationError) as refusal:
            change()
        assert len(refusal.value.message_dict) == 1
        assert next(iter(refusal.value.message_dict)) in {"enabled", "tenant", "state"}
    assert everything() == before
