"""No request answers 500, and every error is the API's JSON: {"detail", "code", "fields"}
with the field named on a 400, and no database text in it."""

import json
import threading
import time
from base64 import b64encode

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.middleware.csrf import _get_failure_view
from django.test import RequestFactory

from api.exceptions import exception_handler
from domains.models import Domain, Tenant
from subscribers.models import Subscriber
from subscribers.services import subscriber_create
from tests.api_helpers import client_for, world  # noqa: F401

D = "/api/v1/domains/bob.example"
SAM = f"{D}/subscribers/sam"
# An address Django's validator takes (it allows 320 characters) but no column holds.
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example"


@pytest.fixture
def operator(alice):
    client = client_for(alice)
    client.raise_request_exception = False  # a 500 is an answer to look at, not a crash
    return client


@pytest.fixture
def tenant(bob):
    client = client_for(bob)
    client.raise_request_exception = False
    return client


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if status == 400:
        assert all(isinstance(m, str) for ms in body["fields"].values() for m in ms), body
        if field is not None:
            assert body["fields"][field], body
    return body


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/domains/a%00b/", "did"),
        ("/api/v1/domains/a%00b/subscribers/", "did"),
        (f"{D}/subscribers/a%00b/", "username"),
        (f"{SAM}/valid-from/a%00b/", "from_user"),
        (f"{D}/aliases/a%00b/", "username"),
        (f"{D}/names/a%00b/canonical/", "name"),
        ("/api/v1/proxies/a%00b/", "name"),
        ("/api/v1/domains/?search=a%00b", "search"),
        ("/api/v1/domains/?ordering=did%00", "ordering"),
        (f"{D}/subscribers/?search=a%00b", "search"),
    ],
)
def test_a_nul_character_in_the_url_is_a_400_naming_the_parameter(operator, world, url, field):  # noqa: F811
    method = operator.post if url.endswith("canonical/") else operator.get
    assert_error(method(url), 400, field)


def test_a_nul_character_in_a_path_parameter_of_a_write_changes_nothing(operator, world):  # noqa: F811
    assert_error(operator.delete(f"{D}/subscribers/sam%00/"), 400, "username")
    assert_error(operator.delete("/api/v1/domains/bob.example%00/?force=true"), 400, "did")
    assert Subscriber.objects.filter(username="sam").exists()


def _options_urls() -> list[str]:
    return [
        "/api/v1/domains/",
        f"{D}/",
        f"{D}/names/",
        f"{D}/names/sip.bob.example/",
        f"{D}/names/sip.bob.example/canonical/",
        f"{D}/attributes/",
        f"{D}/attributes/max_contacts/",
        f"{D}/subscribers/",
        f"{SAM}/",
        f"{SAM}/valid-from/",
        f"{SAM}/valid-from/sam/",
        f"{D}/aliases/",
        f"{D}/aliases/100/",
        f"{D}/verify/",
        f"{D}/dns/",
        "/api/v1/domains/no-such.example/attributes/max_contacts/",
        "/api/v1/claims/1/verify/",
        "/api/v1/tokens/1/",
        "/api/v1/jobs/1/",
    ]


@pytest.mark.parametrize("url", _options_urls())
def test_options_describes_every_resource_and_its_methods(operator, tenant, world, url):  # noqa: F811
    for client in (operator, tenant):
        response = client.options(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["schema"] == "/api/v1/schema/"
        assert "OPTIONS" in response["Allow"]


def test_options_of_an_operator_resource_is_refused_to_a_tenant(tenant, world):  # noqa: F811
    assert_error(tenant.options("/api/v1/proxies/"), 403)


@pytest.mark.parametrize("depth", [33, 5000])
def test_a_deeply_nested_body_is_a_400(operator, depth):
    body = "[" * depth + "]" * depth
    for url in ("/api/v1/domains/", "/api/v1/domains-bulk/"):
        response = operator.post(url, body, content_type="application/json")
        assert "nested deeper than 32" in assert_error(response, 400)["detail"]
    assert not Domain.objects.exists()


def test_a_body_nested_as_deep_as_the_api_needs_is_read(operator):
    response = operator.post(
        "/api/v1/domains-bulk/",
        [{"name": "bulk.example", "attributes": {"max_contacts": "2"}}],
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", f"{D}/subscribers/", {"username": "eve", "password": "eve-secret"}),
        ("patch", f"{SAM}/", {}),
        ("post", "/api/v1/tenants/", {"name": "long-corp", "owner": "long"}),
    ],
)
def test_an_email_address_longer_than_its_column_is_a_400_naming_it(
    operator,
    world,  # noqa: F811
    method,
    url,
    body,
):
    assert len(LONG_EMAIL) > 254
    response = getattr(operator, method)(url, {**body, "email": LONG_EMAIL}, format="json")
    assert_error(response, 400, "email")
    assert not Subscriber.objects.filter(email=LONG_EMAIL).exists()
    assert not Tenant.objects.filter(name="long-corp").exists()


def test_the_service_refuses_an_email_address_longer_than_its_column(alice, world):  # noqa: F811
    with pytest.raises(ValidationError) as refused:
        subscriber_create(
            actor=alice,
            domain=world["bob_domain"],
            username="eve",
            password="eve-secret",
            email=LONG_EMAIL,
        )
    assert refused.value.message_dict["email"] == ["an e-mail address has at most 254 characters"]


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_a_body_over_the_limit_is_a_413_in_json(operator, settings, idempotency_key):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"name": "big.example", "aliases": ["x" * 64] * 200})
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    response = operator.post("/api/v1/domains/", body, content_type="application/json", **headers)
    assert assert_error(response, 413)["code"] == "too_large"
    assert not Domain.objects.exists()


def test_a_body_over_the_limit_elsewhere_stays_djangos_answer(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client.post("/accounts/login/", {"login": "x" * 20_000})
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("post", "/api/v1/docs/", 405),
        ("delete", "/api/v1/schema/", 405),
        ("get", "/api/v1/schema/?format=xml", 404),
        ("get", "/api/v1/no-such-resource/", 404),
        ("put", "/api/v1/domains/", 405),
    ],
)
def test_framework_errors_under_the_api_are_json(operator, method, url, status):
    response = getattr(operator, method)(url)
    body = assert_error(response, status)
    assert set(body) == {"detail", "code"}
    if status == 405:
        assert "OPTIONS" in response["Allow"]


def test_a_host_outside_allowed_hosts_is_a_json_400(operator):
    assert_error(operator.get("/api/v1/domains/", HTTP_HOST="evil.example"), 400)


def test_a_csrf_failure_under_the_api_is_json():
    request = RequestFactory().post("/api/v1/domains/")
    response = _get_failure_view()(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "detail": "CSRF verification failed: CSRF cookie not set.",
        "code": "permission_denied",
    }


def _cursor(position: str) -> str:
    return b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=abc", "page_size"),
        ("page_size=1001", "page_size"),
        ("cursor=not-base64!", "cursor"),
        (f"cursor={_cursor('abc')}", "cursor"),  # the id ordering takes numbers
        (f"ordering=created_at&cursor={_cursor('yesterday')}", "cursor"),
        (f"ordering=did&cursor={_cursor('a%00b')}", "cursor"),
        ("enabled=maybe", "enabled"),
    ],
)
def test_a_list_parameter_that_is_not_one_is_a_400_naming_it(operator, world, query, field):  # noqa: F811
    for url in ("/api/v1/domains/", f"{D}/subscribers/"):
        assert_error(operator.get(f"{url}?{query}"), 400, field)


def test_a_flag_that_is_not_true_or_false_is_a_400_and_changes_nothing(operator, world):  # noqa: F811
    assert_error(operator.delete("/api/v1/domains/op.example/?force=maybe"), 400, "force")
    assert Domain.objects.filter(did="op.example").exists()
    response = operator.delete(f"{D}/attributes/realm/?accept_password_reset=perhaps")
    assert_error(response, 400, "accept_password_reset")


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", "/api/v1/tokens/", {"name": 0}, "name"),
        ("post", "/api/v1/domains/", {"name": 5}, "name"),
        ("post", "/api/v1/domains/", {"name": "x.example", "enabled": "no"}, "enabled"),
        ("post", "/api/v1/domains/", {"name": "x.example", "tenant": 0}, "tenant"),
        ("patch", f"{D}/", {"enabled": 0}, "enabled"),
        ("patch", f"{SAM}/", {"enabled": "false"}, "enabled"),
        ("post", f"{SAM}/valid-from/", {"from_user": 4930123}, "from_user"),
        ("put", f"{D}/attributes/max_contacts/", {"value": 5}, "value"),
    ],
)
def test_an_input_of_another_json_type_than_the_schema_states_is_a_400(
    operator,
    world,  # noqa: F811
    method,
    url,
    body,
    field,
):
    assert_error(getattr(operator, method)(url, body, format="json"), 400, field)
    assert Domain.objects.get(did="bob.example").enabled
    assert not Domain.objects.filter(did="x.example").exists()


def _schema(client) -> dict:
    return client.get("/api/v1/schema/?format=json").json()


def _request_properties(schema: dict):
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            for prop, spec in component.get("properties", {}).items():
                yield name, prop, spec


def _strings(spec: dict):
    """The string schemas a property is made of (its branches, items and values)."""
    if spec.get("type") == "string":
        yield spec
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in spec.get(key, []):
            yield from _strings(branch)
    for key in ("items", "additionalProperties"):
        if isinstance(spec.get(key), dict):
            yield from _strings(spec[key])


def test_every_string_an_input_takes_has_its_length_in_the_schema(operator):
    unbounded = [
        f"{component}.{prop}"
        for component, prop, spec in _request_properties(_schema(operator))
        for string in _strings(spec)
        if "enum" not in string and "maxLength" not in string
    ]
    assert not unbounded


@pytest.mark.parametrize(
    ("component", "prop", "limits"),
    [
        ("DomainCreateInputRequest", "name", {"maxLength": 64}),
        ("DomainCreateInputRequest", "aliases", {"maxLength": 64}),
        ("DomainCreateInputRequest", "attributes", {"maxLength": 255}),
        ("DomainCreateInputRequest", "did", {"maxLength": 64}),
        ("DomainBulkItemRequest", "name", {"maxLength": 64}),
        ("NameInputRequest", "name", {"maxLength": 64}),
        ("ClaimInputRequest", "name", {"maxLength": 64}),
        ("SubscriberCreateInputRequest", "username", {"maxLength": 64}),
        ("SubscriberCreateInputRequest", "password", {"minLength": 8, "maxLength": 64}),
        ("PatchedSubscriberUpdateInputRequest", "password", {"minLength": 8, "maxLength": 64}),
        ("SubscriberCreateInputRequest", "email", {"maxLength": 254}),
        ("PatchedSubscriberUpdateInputRequest", "email", {"maxLength": 254}),
        ("TenantCreateInputRequest", "email", {"maxLength": 254}),
        ("TenantCreateInputRequest", "name", {"maxLength": 100}),
        ("TenantCreateInputRequest", "owner", {"maxLength": 150}),
        ("AttributeInputRequest", "value", {"maxLength": 255}),
        ("TokenCreateInputRequest", "name", {"maxLength": 100}),
        ("ValidFromInputRequest", "from_user", {"maxLength": 64}),
        ("UserAliasInputRequest", "username", {"maxLength": 64}),
        ("ProxyCreateInputRequest", "name", {"maxLength": 64}),
    ],
)
def test_the_schema_states_the_limits_the_api_keeps(operator, component, prop, limits):
    spec = _schema(operator)["components"]["schemas"][component]["properties"][prop]
    stated = {key: max(s[key] for s in _strings(spec) if key in s) for key in limits}
    assert stated == limits


def test_the_schema_follows_the_minimum_password_length_setting(operator, settings):
    settings.SERWEB_MIN_PASSWORD_LENGTH = 12
    schemas = _schema(operator)["components"]["schemas"]
    assert schemas["SubscriberCreateInputRequest"]["properties"]["password"]["minLength"] == 12


def test_the_schema_states_the_page_size_limits(operator):
    parameters = _schema(operator)["paths"]["/api/v1/domains/"]["get"]["parameters"]
    page_size = next(p for p in parameters if p["name"] == "page_size")
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}


@pytest.mark.postgres
def test_a_value_the_database_refuses_is_a_400_without_the_databases_words(db):
    with pytest.raises(DataError) as refused, transaction.atomic():
        Tenant.objects.filter(name="nul\x00").exists()
    response = exception_handler(refused.value, {})
    assert response.status_code == 400
    assert response.data["fields"]["non_field_errors"]
    assert "0x00" not in json.dumps(response.data) and "PostgreSQL" not in str(response.data)


@pytest.mark.postgres
def test_a_write_the_database_refuses_as_conflicting_is_a_409_without_its_words(bob):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Tenant.objects.create(name="bob-corp", owner=bob)
    response = exception_handler(refused.value, {})
    assert response.status_code == 409
    assert response.data == {
        "detail": "a concurrent change conflicts with this request; try it again",
        "code": "conflict",
    }


@pytest.mark.postgres
def test_a_domain_taken_concurrently_is_a_400_without_the_databases_words(
    alice,
    transactional_db,
):
    """One transaction holds the name uncommitted while the API creates the same domain;
    the database refuses the second insert when the first commits."""
    holding, release = threading.Event(), threading.Event()

    def hold_the_name():
        try:
            with transaction.atomic():
                domain = Domain.objects.create(did="race.example")
                domain.names.create(name="race.example", is_canonical=True)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_name)
    holder.start()
    assert holding.wait(10)
    client = client_for(alice)
    answer = {}

    def create():
        try:
            answer["response"] = client.post(
                "/api/v1/domains/", {"name": "race.example"}, format="json"
            )
        finally:
            connection.close()

    creator = threading.Thread(target=create)
    creator.start()
    _wait_for_a_lock_wait()
    release.set()
    holder.join(10)
    creator.join(10)
    body = assert_error(answer["response"], 400, "name")
    assert "duplicate key" not in json.dumps(body) and "constraint" not in json.dumps(body)


def _wait_for_a_lock_wait(timeout: float = 10) -> None:
    """Until another backend of this database waits for a lock (the second insert)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second insert never waited for the first")
