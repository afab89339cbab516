import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.models import ApiToken
from domains.models import Domain
from tests.api_helpers import client_for, world  # noqa: F401
from tests.helpers import proxy_rows


@pytest.fixture
def operator_client(alice):
    return client_for(alice)


def test_operator_creates_a_domain_that_the_proxy_serves(operator_client):
    response = operator_client.post(
        "/api/v1/domains/",
        {
            "name": "Straße.example",
            "aliases": ["sip.strasse.example", "192.0.2.7"],
            "attributes": {"max_contacts": "3"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["did"] == "xn--strae-oqa.example"
    assert body["served"] is True
    assert {n["name"]: n["display"] for n in body["names"]}["xn--strae-oqa.example"] == (
        "straße.example"
    )
    assert ("192.0.2.7", "xn--strae-oqa.example") in proxy_rows("domain", "domain, did")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "a" * 60 + ".example.com"}, "name", "at most 64"),
        ({"name": "bad_label.example"}, "name", "not a valid domain name"),
        ({"name": ""}, "name", "may not be blank"),
        ({}, "name", "required"),
        ({"name": "ok.example", "attributes": {"max_contacts": "lots"}}, "attributes", "integer"),
        ({"name": "ok.example", "attributes": {"9lives": "1"}}, "attributes", "attribute name"),
        ({"name": "ok.example", "aliases": "not-a-list"}, "aliases", "list"),
    ],
)
def test_bad_input_is_a_400_with_a_field_message(operator_client, body, field, message):
    response = operator_client.post("/api/v1/domains/", body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid"
    assert any(message in m for m in error["fields"][field]), error
    assert not Domain.objects.exists()


def test_a_name_of_another_domain_is_refused(operator_client, world):  # noqa: F811
    response = operator_client.post(
        "/api/v1/domains/", {"name": "x.example", "aliases": ["sip.bob.example"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "aliases": ["sip.bob.example already belongs to domain bob.example"]
    }


def test_idempotency_key_replays_instead_of_creating_twice(operator_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-once-1"}
    body = {"name": "once.example"}
    first = operator_client.post("/api/v1/domains/", body, format="json", **headers)
    second = operator_client.post("/api/v1/domains/", body, format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Domain.objects.count() == 1
    other = operator_client.post(
        "/api/v1/domains/", {"name": "twice.example"}, format="json", **headers
    )
    assert other.status_code == 422
    assert Domain.objects.count() == 1


def test_cursor_pagination_walks_every_domain_once(operator_client):
    for i in range(7):
        operator_client.post("/api/v1/domains/", {"name": f"d{i}.example"}, format="json")
    seen, url = [], "/api/v1/domains/?page_size=3&ordering=did"
    while url:
        page = operator_client.get(url).json()
        seen += [d["did"] for d in page["results"]]
        url = page["next"]
    assert seen == sorted(f"d{i}.example" for i in range(7))


def test_filters_and_search(operator_client, world):  # noqa: F811
    assert [
        d["did"] for d in operator_client.get("/api/v1/domains/?tenant=bob-corp").json()["results"]
    ] == ["bob.example"]
    assert [
        d["did"]
        for d in operator_client.get("/api/v1/domains/?name=sip.bob.example").json()["results"]
    ] == ["bob.example"]
    assert [
        d["did"] for d in operator_client.get("/api/v1/domains/?search=op.").json()["results"]
    ] == ["op.example"]
    assert operator_client.get("/api/v1/domains/?state=bogus").status_code == 400


def test_no_secret_ever_leaves_the_api(operator_client, world, alice):  # noqa: F811
    operator_client.post(
        "/api/v1/domains/bob.example/subscribers/",
        {"username": "tom", "password": "tom-secret-pw"},
        format="json",
    )
    operator_client.patch(
        "/api/v1/domains/bob.example/subscribers/tom/", {"password": "tom-new-pw"}, format="json"
    )
    sam = world["sam"]
    sam.refresh_from_db()
    bodies = [
        operator_client.get(url).content.decode()
        for url in [
            "/api/v1/domains/bob.example/subscribers/",
            "/api/v1/domains/bob.example/subscribers/sam/",
            "/api/v1/audit/",
            "/api/v1/tokens/",
            "/api/v1/domains/bob.example/",
        ]
    ]
    keys = list(ApiToken.objects.values_list("key_hash", flat=True))
    for secret in ["sam-secret", "tom-secret-pw", "tom-new-pw", sam.ha1, sam.ha1b, *keys]:
        assert all(secret not in body for body in bodies)
    assert all('"ha1' not in body for body in bodies)


def test_token_created_once_works_until_revoked(alice):
    client = client_for(alice)
    created = client.post("/api/v1/tokens/", {"name": "billing"}, format="json").json()
    assert "." in created["key"]
    billing = APIClient()
    billing.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    assert billing.get("/api/v1/domains/").status_code == 200
    assert all("key" not in t for t in client.get("/api/v1/tokens/").json()["results"])
    assert client.delete(f"/api/v1/tokens/{created['id']}/").status_code == 204
    assert billing.get("/api/v1/domains/").status_code == 401
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {created['prefix']}.not-the-secret")
    assert wrong.get("/api/v1/domains/").status_code == 401


def test_throttling_is_per_token(alice, monkeypatch):
    from api.throttling import PerTokenRateThrottle

    monkeypatch.setattr(PerTokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    cache.clear()
    first, second = client_for(alice), client_for(alice)
    codes = [first.get("/api/v1/domains/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert second.get("/api/v1/domains/").status_code == 200
    cache.clear()


def test_browser_sessions_need_csrf_for_writes(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/v1/domains/").status_code == 200
    response = client.post("/api/v1/domains/", {"name": "csrf.example"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Domain.objects.exists()


def test_realm_change_needs_consent_through_the_api(operator_client, world):  # noqa: F811
    url = "/api/v1/domains/bob.example/attributes/realm/"
    refused = operator_client.put(url, {"value": "voice.bob.example"}, format="json")
    assert refused.status_code == 400
    assert "must set new passwords" in refused.json()["fields"]["accept_password_reset"][0]
    accepted = operator_client.put(
        url, {"value": "voice.bob.example", "accept_password_reset": True}, format="json"
    )
    assert accepted.status_code == 200
    sam = operator_client.get("/api/v1/domains/bob.example/subscribers/sam/").json()
    assert sam["needs_new_password"] is True


def test_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/domains/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_bulk_create_is_all_or_nothing_with_per_item_errors(operator_client):
    items = [
        {"name": "b1.example", "aliases": ["sip.b1.example"], "attributes": {"max_contacts": "2"}},
        {"name": "b2.example", "enabled": False},
    ]
    created = operator_client.post("/api/v1/domains-bulk/", items, format="json")
    assert created.status_code == 201, created.content
    assert created.json() == {"domains": 2, "names": 3, "attributes": 1}
    assert proxy_rows("domain", "domain") == [("b1.example",), ("sip.b1.example",)]

    bad = [
        {"name": "b3.example"},
        {"name": "b4.example", "aliases": ["sip.b1.example"]},
        {"name": "bad_label.example"},
        {"aliases": ["x.example"]},
    ]
    refused = operator_client.post("/api/v1/domains-bulk/", bad, format="json")
    assert refused.status_code == 400
    fields = refused.json()["fields"]
    assert set(fields) == {"3"}  # shape errors first: nothing reaches the database
    assert "name: This field is required." in fields["3"]
    refused = operator_client.post("/api/v1/domains-bulk/", bad[:3], format="json")
    fields = refused.json()["fields"]
    assert set(fields) == {"1", "2"}
    assert any("already belongs to domain b1.example" in m for m in fields["1"])
    assert Domain.objects.count() == 2


def test_bulk_create_is_for_operators(bob):
    response = client_for(bob).post("/api/v1/domains-bulk/", [{"name": "x.example"}], format="json")
    assert response.status_code == 403


def test_a_tenant_may_name_only_its_own_names_as_realm(bob, world):  # noqa: F811
    client = client_for(bob)
    url = "/api/v1/domains/bob.example/attributes/realm/"
    refused = client.put(url, {"value": "op.example", "accept_password_reset": True}, format="json")
    assert refused.status_code == 400
    assert "not a name of one of your domains" in refused.json()["fields"]["value"][0]
    allowed = client.put(
        url, {"value": "sip.bob.example", "accept_password_reset": True}, format="json"
    )
    assert allowed.status_code == 200


def test_a_tenant_may_set_only_known_attributes(bob, world):  # noqa: F811
    client = client_for(bob)
    url = "/api/v1/domains/bob.example/attributes"
    for name, message in [("did", "reserved"), ("x_custom", "not an attribute you may set")]:
        refused = client.put(f"{url}/{name}/", {"value": "op.example"}, format="json")
        assert refused.status_code == 400, refused.content
        assert message in refused.json()["fields"]["name"][0]
    assert client.put(f"{url}/max_contacts/", {"value": "2"}, format="json").status_code == 200
    assert {a["name"] for a in client.get(f"{url}/").json()} == {"max_contacts"}


def test_an_operator_may_set_unknown_attributes_but_not_reserved_ones(operator_client, world):  # noqa: F811
    url = "/api/v1/domains/bob.example/attributes"
    refused = operator_client.put(f"{url}/did/", {"value": "op.example"}, format="json")
    assert refused.status_code == 400
    assert "reserved" in refused.json()["fields"]["name"][0]
    custom = operator_client.put(f"{url}/x_custom/", {"value": "1"}, format="json")
    assert custom.status_code == 200
