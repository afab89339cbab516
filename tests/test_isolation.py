"""Two tenants, every address: neither sees nor changes the other's objects, and neither
reaches an operator's page.

The walk takes every URL pattern serweb serves (pages and API). For an address naming an
object (a domain, a subscriber, a claim...), the intruder's answer to every method must be
the answer it gets for an object that does not exist, so an answer never tells whether
the other's object is there (404, not 403); for a list, the answer must not mention the
other's objects. Afterwards, every row of the owner's is as it was. A pattern that is in
neither ROUTES nor NOT_WALKED fails the test: a new page or endpoint is walked from the
day it exists."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from api.jobs import job_start
from api.models import ApiToken, Job
from api.services import token_create
from audit.models import AuditEntry
from domains.dns.claims import domain_claim_start
from domains.models import (
    Domain,
    DomainAttribute,
    DomainCheck,
    DomainClaim,
    DomainName,
    DomainOrigin,
    Tenant,
)
from domains.services import domain_attribute_set, domain_create
from proxies.models import Proxy
from proxies.services import proxy_create
from subscribers.models import Subscriber, UserAlias, ValidFrom
from subscribers.services import subscriber_create, user_alias_add, valid_from_add

METHODS = ("get", "post", "put", "patch", "delete")

# Patterns the walk leaves alone, and why.
NOT_WALKED = {
    "admin/": "Django's admin: superusers only, tested in tests/test_admin*.py",
    "accounts/": "allauth's own pages: each acts on the signed-in account alone",
    "api/v1/schema/": "public description of the API",
    "api/v1/docs/": "public description of the API",
    "proxy/lookup": "answers proxies by client address (tests/test_lookup.py)",
    "health": "answers monitoring by client address (tests/test_health.py)",
    "metrics": "answers monitoring by client address (tests/test_health.py)",
}

# Addresses of one world's objects, by URL parameter; the "missing" world names nothing.
Params = dict[str, str]


@dataclass
class World:
    user: object
    tenant: Tenant
    params: Params
    # Text no answer to another tenant may contain.
    secrets: tuple[str, ...]


def build_world(operator, user, label: str) -> World:
    tenant = Tenant.objects.get(owner=user)
    domain = domain_create(
        actor=operator,
        name=f"{label}.example",
        aliases=[f"sip.{label}.example"],
        tenant=tenant,
        origin=DomainOrigin.TENANT,
    )
    domain_attribute_set(actor=operator, domain=domain, name="max_calls", value="5")
    DomainCheck.objects.create(domain=domain)  # as if DNS had been asked once
    subscriber = subscriber_create(
        actor=operator, domain=domain, username=f"{label}-user", password=f"{label}-secret"
    )
    valid_from_add(actor=operator, subscriber=subscriber, from_user=f"{label}-from")
    alias = user_alias_add(
        actor=operator, domain=domain, username=f"{label}-alias", subscriber=subscriber
    )
    claim = domain_claim_start(actor=user, tenant=tenant, name=f"{label}-claim.example.org")
    job = job_start(actor=user, kind=Job.Kind.VERIFY_DOMAIN, target_id=domain.pk, target=domain.did)
    token, _key = token_create(actor=operator, user=user, name=f"{label}-token")
    params = {
        "did": domain.did,
        "name": f"sip.{label}.example",
        "attribute": "max_calls",
        "username": f"{label}-user",
        "from_user": f"{label}-from",
        "alias": f"{label}-alias",
        "claim": str(claim.pk),
        "job": str(job.pk),
        "token": str(token.pk),
        "subscriber_pk": str(subscriber.pk),
        "alias_pk": str(alias.pk),
        "tenant_pk": str(tenant.pk),
        "proxy_pk": str(Proxy.objects.get(name="edge").pk),
    }
    return World(user, tenant, params, (domain.did, f"{label}-user", f"{label}-claim"))


MISSING: Params = {
    "did": "nothere.example",
    "name": "sip.nothere.example",
    "attribute": "max_calls",
    "username": "nobody",
    "from_user": "nobody-from",
    "alias": "nobody-alias",
    "claim": "999999",
    "job": "999999",
    "token": "999999",
    "subscriber_pk": "999999",
    "alias_pk": "999999",
    "tenant_pk": "999999",
    "proxy_pk": "999999",
}


# Every walked pattern: its URL parameters from a world's, and who may use it.
OWN = "a tenant's own objects (operators: all)"
OPERATOR = "operators only"
LIST = "a list: each sees its own"
Route = tuple[str, Callable[[Params], dict[str, str]]]


def none(_p: Params) -> dict[str, str]:
    return {}


def did(p: Params) -> dict[str, str]:
    return {"did": p["did"]}


# An upload's token as the import's addresses take it.
UPLOAD = "A" * 22
# The addresses under a subscriber's, for operators and tenants alike.
SUBSCRIBER_PAGES = (
    "",
    "aliases/",
    "delete/",
    "enabled/",
    "password/",
    "registrations/",
    "valid-from/",
    "valid-from/remove/",
)

ROUTES: dict[str, Route] = {
    # Pages.
    "": (LIST, none),
    "dashboard/": (OPERATOR, none),
    "domains/": (OPERATOR, none),
    "domains/new/": (OPERATOR, none),
    "domain/<str:did>/": (OPERATOR, did),
    "domain/<str:did>/enable/": (OPERATOR, did),
    "domain/<str:did>/disable/": (OPERATOR, did),
    "domain/<str:did>/names/": (OPERATOR, did),
    "domain/<str:did>/names/canonical/": (OPERATOR, did),
    "domain/<str:did>/names/remove/": (OPERATOR, did),
    "domain/<str:did>/names/exempt/": (OPERATOR, did),
    "domain/<str:did>/names/restore/": (OPERATOR, did),
    "domain/<str:did>/attributes/": (OPERATOR, did),
    "domain/<str:did>/attributes/unset/": (OPERATOR, did),
    "domain/<str:did>/tenant/": (OPERATOR, did),
    "domain/<str:did>/verify/": (OPERATOR, did),
    "domain/<str:did>/jobs/<int:job>/": (OPERATOR, lambda p: {"did": p["did"], "job": p["job"]}),
    "domain/<str:did>/delete/": (OPERATOR, did),
    "import/": (OPERATOR, none),
    "import/<str:token>/": (OPERATOR, lambda p: {"token": UPLOAD}),
    "import/<str:token>/run/": (OPERATOR, lambda p: {"token": UPLOAD}),
    "import/<str:token>/discard/": (OPERATOR, lambda p: {"token": UPLOAD}),
    "imports/<int:job_id>/": (OPERATOR, lambda p: {"job_id": p["job"]}),
    "imports/<int:job_id>/bad-rows.csv": (OPERATOR, lambda p: {"job_id": p["job"]}),
    "export/domains.csv": (OPERATOR, none),
    "export/subscribers.csv": (OPERATOR, none),
    "audit/": (OPERATOR, none),
    "proxies/": (OPERATOR, none),
    "proxies/add/": (OPERATOR, none),
    "proxies/<int:pk>/edit/": (OPERATOR, lambda p: {"pk": p["proxy_pk"]}),
    "proxies/<int:pk>/delete/": (OPERATOR, lambda p: {"pk": p["proxy_pk"]}),
    "proxies/<int:pk>/reload/": (OPERATOR, lambda p: {"pk": p["proxy_pk"]}),
    "proxies/reloads/<int:job_id>/": (OPERATOR, lambda p: {"job_id": p["job"]}),
    "tenants/": (OPERATOR, none),
    "tenants/add/": (OPERATOR, none),
    "tenants/transfer/": (OPERATOR, none),
    "tenants/<int:pk>/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "tenants/<int:pk>/edit/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "tenants/<int:pk>/password/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "tenants/<int:pk>/invite/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "tenants/<int:pk>/disable/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "tenants/<int:pk>/enable/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "subscribers/": (OPERATOR, none),
    "subscribers/add/": (OPERATOR, none),
    **{
        f"subscribers/<int:pk>/{tail}": (OPERATOR, lambda p: {"pk": p["subscriber_pk"]})
        for tail in SUBSCRIBER_PAGES
    },
    "subscribers/<int:pk>/aliases/<int:alias_pk>/remove/": (
        OPERATOR,
        lambda p: {"pk": p["subscriber_pk"], "alias_pk": p["alias_pk"]},
    ),
    # A tenant's own pages.
    "my/domains/": (LIST, none),
    **{
        f"my/domains/<str:did>/{tail}": (OWN, did)
        for tail in ("", "zone.txt", "check/", "status/", "proxies/", "attributes/", "release/")
    },
    "my/domains/<str:did>/attributes/<str:name>/remove/": (
        OWN,
        lambda p: {"did": p["did"], "name": p["attribute"]},
    ),
    "my/claims/add/": (LIST, none),
    **{
        f"my/claims/<int:pk>/{tail}": (OWN, lambda p: {"pk": p["claim"]})
        for tail in ("", "zone.txt", "check/", "status/", "withdraw/")
    },
    "my/subscribers/": (LIST, none),
    "my/subscribers/add/": (LIST, none),
    **{
        f"my/subscribers/<int:pk>/{tail}": (OWN, lambda p: {"pk": p["subscriber_pk"]})
        for tail in SUBSCRIBER_PAGES
    },
    "my/subscribers/<int:pk>/aliases/<int:alias_pk>/remove/": (
        OWN,
        lambda p: {"pk": p["subscriber_pk"], "alias_pk": p["alias_pk"]},
    ),
    "my/tokens/": (LIST, none),
    "my/tokens/<int:pk>/revoke/": (OWN, lambda p: {"pk": p["token"]}),
    "my/history/": (LIST, none),
    "my/confirm/again/": (LIST, none),
    # API.
    "api/v1/tokens/": (LIST, none),
    "api/v1/tokens/<int:pk>/": (OWN, lambda p: {"pk": p["token"]}),
    "api/v1/audit/": (LIST, none),
    "api/v1/jobs/<int:pk>/": (OWN, lambda p: {"pk": p["job"]}),
    "api/v1/claims/": (LIST, none),
    "api/v1/claims/<int:pk>/": (OWN, lambda p: {"pk": p["claim"]}),
    "api/v1/claims/<int:pk>/verify/": (OWN, lambda p: {"pk": p["claim"]}),
    "api/v1/reload/": (OPERATOR, none),
    "api/v1/lookup/": (OPERATOR, none),
    "api/v1/proxy-status/": (OPERATOR, none),
    "api/v1/tenants/": (OPERATOR, none),
    "api/v1/tenants/<int:pk>/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "api/v1/tenants/<int:pk>/invite/": (OPERATOR, lambda p: {"pk": p["tenant_pk"]}),
    "api/v1/proxies/": (OPERATOR, none),
    "api/v1/proxies/<str:name>/": (OPERATOR, lambda p: {"name": "edge"}),
    "api/v1/domains/": (LIST, none),
    "api/v1/domains-bulk/": (LIST, none),
    "api/v1/domains/<str:did>/": (OWN, did),
    "api/v1/domains/<str:did>/verify/": (OWN, did),
    "api/v1/domains/<str:did>/dns/": (OWN, did),
    "api/v1/domains/<str:did>/names/": (OWN, did),
    "api/v1/domains/<str:did>/names/<str:name>/": (
        OWN,
        lambda p: {"did": p["did"], "name": p["name"]},
    ),
    "api/v1/domains/<str:did>/names/<str:name>/canonical/": (
        OWN,
        lambda p: {"did": p["did"], "name": p["name"]},
    ),
    "api/v1/domains/<str:did>/names/<str:name>/restore/": (
        OWN,
        lambda p: {"did": p["did"], "name": p["name"]},
    ),
    "api/v1/domains/<str:did>/attributes/": (OWN, did),
    "api/v1/domains/<str:did>/attributes/<str:name>/": (
        OWN,
        lambda p: {"did": p["did"], "name": p["attribute"]},
    ),
    "api/v1/domains/<str:did>/subscribers/": (OWN, did),
    "api/v1/domains/<str:did>/subscribers/<str:username>/": (
        OWN,
        lambda p: {"did": p["did"], "username": p["username"]},
    ),
    "api/v1/domains/<str:did>/subscribers/<str:username>/valid-from/": (
        OWN,
        lambda p: {"did": p["did"], "username": p["username"]},
    ),
    "api/v1/domains/<str:did>/subscribers/<str:username>/valid-from/<str:from_user>/": (
        OWN,
        lambda p: {"did": p["did"], "username": p["username"], "from_user": p["from_user"]},
    ),
    "api/v1/domains/<str:did>/aliases/": (OWN, did),
    "api/v1/domains/<str:did>/aliases/<str:username>/": (
        OWN,
        lambda p: {"did": p["did"], "username": p["alias"]},
    ),
}


def url_patterns() -> list[str]:
    def walk(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if any(route.startswith(skipped) for skipped in NOT_WALKED):
                continue
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route

    return sorted(set(walk(get_resolver().url_patterns, "")))


def address(route: str, params: dict[str, str]) -> str:
    path = route
    for key, value in params.items():
        for converter in ("str", "int", "slug", "path"):
            path = path.replace(f"<{converter}:{key}>", value)
    assert "<" not in path, f"{route}: a parameter has no value"
    return "/" + path


def snapshot(world: World) -> dict:
    """Every row of the world's, as the database holds it."""
    domains = Domain.objects.filter(tenant=world.tenant)

    def rows(queryset) -> list:
        return sorted(json.dumps(row, default=str, sort_keys=True) for row in queryset.values())

    return {
        "tenant": rows(Tenant.objects.filter(pk=world.tenant.pk)),
        "owner": rows(get_user_model().objects.filter(pk=world.user.pk)),
        "domains": rows(domains),
        "names": rows(DomainName.objects.filter(domain__in=domains)),
        "attributes": rows(DomainAttribute.objects.filter(domain__in=domains)),
        "subscribers": rows(Subscriber.objects.filter(domain__in=domains)),
        "valid_from": rows(ValidFrom.objects.filter(subscriber__domain__in=domains)),
        "aliases": rows(UserAlias.objects.filter(domain__in=domains)),
        "claims": rows(DomainClaim.objects.filter(tenant=world.tenant)),
        "tokens": rows(ApiToken.objects.filter(user=world.user)),
        "jobs": rows(Job.objects.filter(user=world.user)),
        "proxies": rows(Proxy.objects.all()),
    }


def clients(user) -> tuple[Client, APIClient]:
    page = Client(raise_request_exception=False)
    page.force_login(user)
    api = APIClient(raise_request_exception=False)
    _token, key = token_create(actor=None, user=user, name="walk")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return page, api


def ask(client, method: str, path: str):
    if isinstance(client, APIClient):
        return getattr(client, method)(path, {}, format="json")
    return getattr(client, method)(path)


@pytest.fixture
def worlds(alice, bob, charlie):
    proxy_create(actor=alice, name="edge", address="127.0.0.1:5060", transport="udp")
    return build_world(alice, bob, "bob"), build_world(alice, charlie, "charlie")


def test_every_pattern_is_walked_or_said_why_not():
    patterns = url_patterns()
    assert len(patterns) > 30
    unwalked = [pattern for pattern in patterns if pattern not in ROUTES]
    assert unwalked == [], "add each to ROUTES (or NOT_WALKED, with the reason)"
    gone = sorted(set(ROUTES) - set(patterns))
    assert gone == [], "ROUTES names patterns serweb no longer has"


@pytest.mark.parametrize("direction", ["charlie into bob's", "bob into charlie's"])
def test_no_tenant_reaches_another_tenants_objects_or_an_operators_page(worlds, direction):
    owner, intruder = worlds if direction.startswith("charlie") else worlds[::-1]
    before = snapshot(owner)
    page, api = clients(intruder.user)
    leaks = []
    for route in url_patterns():
        scope, params_of = ROUTES[route]
        client = api if route.startswith("api/") else page
        theirs = address(route, params_of(owner.params))
        missing = address(route, params_of(MISSING))
        for method in METHODS:
            answer = ask(client, method, theirs)
            said = f"{method.upper()} {theirs}: {answer.status_code}"
            assert answer.status_code < 500, said
            if scope == OPERATOR and not route.startswith("api/"):
                if answer.status_code != 404 and answer.status_code != 405:
                    leaks.append(f"{said}, an operator's page")
            elif scope == OWN:
                other = ask(client, method, missing).status_code
                if answer.status_code != other or answer.status_code < 400:
                    leaks.append(f"{said}, {other} for an object that does not exist")
            elif scope == OPERATOR and answer.status_code < 400:
                leaks.append(f"{said}, an operators' resource")
            body = answer.content.decode(errors="replace")
            leaks += [f"{said} mentions {text!r}" for text in owner.secrets if text in body]
    assert leaks == []
    assert snapshot(owner) == before
    assert not AuditEntry.objects.filter(actor=intruder.user, tenant=owner.tenant).exists()


def test_the_walk_reaches_the_owners_objects(worlds):
    # Were the addresses wrong, every intruder would get 404 and the walk would prove
    # nothing: the owner reads each of its objects that answers GET.
    owner = worlds[0]
    page, api = clients(owner.user)
    for route, (scope, params_of) in ROUTES.items():
        if scope != OWN:
            continue
        client = api if route.startswith("api/") else page
        answer = ask(client, "get", address(route, params_of(owner.params)))
        assert answer.status_code in (200, 405), f"GET {route}: {answer.status_code}"
