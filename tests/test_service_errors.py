"""Every service names the argument its refusal is about, in words that fit any entry point;
the API answers with the field the client sent and the CLI with the option it gave."""

import inspect
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from api.services import token_create
from domains import services as domains
from domains.dns.claims import domain_claim_start
from domains.models import Domain, Tenant
from proxies.models import Proxy
from proxies.services import proxy_create
from serweb.errors import error_fields
from subscribers import services as subscribers
from tests.api_helpers import client_for, world  # noqa: F401

D = "/api/v1/domains/bob.example"


def _things(world, bob):  # noqa: F811
    bob_domain = world["bob_domain"]
    return {
        "bob_domain": bob_domain,
        "op_domain": Domain.objects.get(did="op.example"),
        "sam": world["sam"],
        "bob_tenant": Tenant.objects.get(owner=bob),
        "bob": bob,
    }


# (service, its arguments from the things above, the argument the refusal is about)
CASES = [
    (domains.domain_create, lambda t: {"name": "bad_label.example"}, "name"),
    (domains.domain_create, lambda t: {"name": "192.0.2.1"}, "name"),
    (domains.domain_create, lambda t: {"name": "op.example"}, "name"),
    (domains.domain_create, lambda t: {"name": "x.example", "aliases": ["bad_label"]}, "aliases"),
    (
        domains.domain_create,
        lambda t: {"name": "x.example", "aliases": ["sip.bob.example"]},
        "aliases",
    ),
    (domains.domain_create, lambda t: {"name": "x.example", "aliases": ["X.example"]}, "aliases"),
    (domains.domain_create, lambda t: {"name": "x.example", "did": "bad did"}, "did"),
    (domains.domain_create, lambda t: {"name": "x.example", "did": "op.example"}, "did"),
    (
        domains.domain_create,
        lambda t: {"name": "x.example", "attributes": {"max_contacts": "lots"}},
        "attributes",
    ),
    (
        domains.domain_create,
        lambda t: {"name": "x.example", "attributes": {"did": "1"}},
        "attributes",
    ),
    (domains.domain_create, lambda t: {"name": "x.example", "state": "gone"}, "state"),
    (domains.domain_create, lambda t: {"name": "x.example", "origin": "moon"}, "origin"),
    (
        domains.domain_name_add,
        lambda t: {"domain": t["bob_domain"], "name": "op.example"},
        "name",
    ),
    (
        domains.domain_name_add,
        lambda t: {"domain": t["bob_domain"], "name": "sip.bob.example"},
        "name",
    ),
    (domains.domain_name_add, lambda t: {"domain": t["bob_domain"], "name": "a..b"}, "name"),
    (
        domains.domain_name_remove,
        lambda t: {"domain": t["op_domain"], "name": "op.example"},
        "name",
    ),
    (
        domains.domain_name_remove,
        lambda t: {"domain": t["bob_domain"], "name": "nope.example"},
        "name",
    ),
    (
        domains.domain_make_canonical,
        lambda t: {"domain": t["bob_domain"], "name": "nope.example"},
        "name",
    ),
    (
        domains.domain_attribute_set,
        lambda t: {"domain": t["bob_domain"], "name": "9lives", "value": "1"},
        "name",
    ),
    (
        domains.domain_attribute_set,
        lambda t: {"domain": t["bob_domain"], "name": "max_contacts", "value": "lots"},
        "value",
    ),
    (
        domains.domain_attribute_set,
        lambda t: {"domain": t["bob_domain"], "name": "display_name", "value": "x", "as_int": True},
        "as_int",
    ),
    (
        domains.domain_attribute_set,
        lambda t: {"domain": t["bob_domain"], "name": "x_y", "value": "1", "source": "moon"},
        "source",
    ),
    (
        domains.domain_attribute_set,
        lambda t: {"domain": t["bob_domain"], "name": "realm", "value": "sip.bob.example"},
        "accept_password_reset",
    ),
    (
        domains.domain_attribute_unset,
        lambda t: {"domain": t["bob_domain"], "name": "max_contacts"},
        "name",
    ),
    (domains.domain_set_state, lambda t: {"domain": t["bob_domain"], "state": "gone"}, "state"),
    (domains.domain_delete, lambda t: {"domain": t["bob_domain"]}, "force"),
    (domains.tenant_create, lambda t: {"name": "", "owner_username": "dan"}, "name"),
    (domains.tenant_create, lambda t: {"name": "BOB-corp", "owner_username": "dan"}, "name"),
    (domains.tenant_create, lambda t: {"name": "d", "owner_username": "bob"}, "owner_username"),
    (domains.tenant_create, lambda t: {"name": "d", "owner_username": "b b"}, "owner_username"),
    (
        domains.tenant_create,
        lambda t: {"name": "d", "owner_username": "dan", "password": "dan"},
        "password",
    ),
    (
        domains.tenant_set_password,
        lambda t: {"tenant": t["bob_tenant"], "password": "password"},
        "password",
    ),
    (
        subscribers.subscriber_create,
        lambda t: {"domain": t["bob_domain"], "username": "s am", "password": "long-secret"},
        "username",
    ),
    (
        subscribers.subscriber_create,
        lambda t: {"domain": t["bob_domain"], "username": "100", "password": "long-secret"},
        "username",
    ),
    (
        subscribers.subscriber_create,
        lambda t: {"domain": t["bob_domain"], "username": "tom", "password": "x"},
        "password",
    ),
    (
        subscribers.subscriber_create,
        lambda t: {
            "domain": t["bob_domain"],
            "username": "tom",
            "password": "long-secret",
            "email": "nope",
        },
        "email",
    ),
    (
        subscribers.subscriber_set_password,
        lambda t: {"subscriber": t["sam"], "password": ""},
        "password",
    ),
    (subscribers.subscriber_update, lambda t: {"subscriber": t["sam"], "email": "nope"}, "email"),
    (
        subscribers.valid_from_add,
        lambda t: {"subscriber": t["sam"], "from_user": "s am"},
        "from_user",
    ),
    (
        subscribers.valid_from_add,
        lambda t: {"subscriber": t["sam"], "from_user": "sam"},
        "from_user",
    ),
    (
        subscribers.valid_from_remove,
        lambda t: {"subscriber": t["sam"], "from_user": "x"},
        "from_user",
    ),
    (
        subscribers.user_alias_add,
        lambda t: {"domain": t["bob_domain"], "username": "sam", "subscriber": t["sam"]},
        "username",
    ),
    (proxy_create, lambda t: {"name": "", "transport": "udp", "address": "h:1"}, "name"),
    (proxy_create, lambda t: {"name": "p", "transport": "pigeon", "address": "h:1"}, "transport"),
    (proxy_create, lambda t: {"name": "p", "transport": "udp", "address": "h"}, "address"),
    (proxy_create, lambda t: {"name": "p", "transport": "fifo", "address": "k.fifo"}, "address"),
    (proxy_create, lambda t: {"name": "p", "transport": "http", "address": "ftp://h"}, "address"),
    (
        proxy_create,
        lambda t: {"name": "p", "transport": "udp", "address": "h:1", "sip_address": "h"},
        "sip_address",
    ),
    (token_create, lambda t: {"user": t["bob"], "name": " "}, "name"),
    (domain_claim_start, lambda t: {"tenant": t["bob_tenant"], "name": "bob.example"}, "name"),
    (domain_claim_start, lambda t: {"tenant": t["bob_tenant"], "name": "op.example"}, "name"),
    (domain_claim_start, lambda t: {"tenant": t["bob_tenant"], "name": "192.0.2.1"}, "name"),
]


@pytest.mark.parametrize(
    ("service", "arguments", "field"),
    CASES,
    ids=[f"{service.__name__}-{field}-{i}" for i, (service, _a, field) in enumerate(CASES)],
)
def test_a_refusal_names_the_services_own_argument(world, alice, bob, service, arguments, field):  # noqa: F811
    with pytest.raises(ValidationError) as refused:
        service(actor=alice, **arguments(_things(world, bob)))

    fields = error_fields(refused.value)
    assert list(fields) == [field], fields
    assert field in inspect.signature(service).parameters
    # Words for whoever asked, through whichever door: no command's option in them.
    assert not any("--" in message for message in fields[field]), fields


def test_a_domain_update_names_the_change_it_refuses(world, alice, bob):  # noqa: F811
    with pytest.raises(ValidationError) as refused:
        domains.domain_update(
            actor=alice, domain=world["bob_domain"], changes={"tenant": "nobody-corp"}
        )
    assert list(error_fields(refused.value)) == ["tenant"]
    with pytest.raises(ValidationError) as refused:
        domains.domain_update(
            actor=bob, domain=world["bob_domain"], changes={"state": "active", "enabled": True}
        )
    assert sorted(error_fields(refused.value)) == ["enabled", "state"]


# --- the API: the field the client sent ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/tenants/", {"name": "dan-corp", "owner": "bob"}, "owner"),
        ("/api/v1/tenants/", {"name": "dan-corp", "owner": "b b"}, "owner"),
        ("/api/v1/domains/", {"name": "x.example", "did": "op.example"}, "did"),
        ("/api/v1/domains/", {"name": "x.example", "aliases": ["x.example"]}, "aliases"),
        ("/api/v1/domains/", {"name": "x.example", "attributes": {"did": "1"}}, "attributes"),
        ("/api/v1/proxies/", {"name": "p", "transport": "udp", "address": "h"}, "address"),
        (
            "/api/v1/proxies/",
            {"name": "p", "transport": "udp", "address": "h:1", "sip_address": "h"},
            "sip_address",
        ),
    ],
)
def test_the_api_names_the_field_the_client_sent(world, alice, path, body, field):  # noqa: F811
    before = (Domain.objects.count(), Tenant.objects.count(), Proxy.objects.count())
    response = client_for(alice).post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]
    assert (Domain.objects.count(), Tenant.objects.count(), Proxy.objects.count()) == before


def test_an_attribute_of_the_wrong_type_is_an_error_on_type(world, alice):  # noqa: F811
    url = f"{D}/attributes/display_name/"
    response = client_for(alice).put(url, {"value": "1", "type": "integer"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"type": ["display_name is a string attribute"]}


def test_an_attribute_that_is_not_there_is_an_error_on_its_name(world, alice):  # noqa: F811
    response = client_for(alice).delete(f"{D}/attributes/realm/")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "name": ["domain bob.example has no operator attribute 'realm'"]
    }


def test_deleting_a_domain_with_users_is_refused_on_force(world, alice):  # noqa: F811
    response = client_for(alice).delete(f"{D}/")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["force"]
    assert "force the deletion" in response.json()["detail"]


# --- the CLI: the option the operator gave ----------------------------------------------


def _cli(*args: str) -> str:
    try:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as exc:
        return str(exc)
    raise AssertionError(f"{args} was not refused")


def test_the_cli_names_its_own_options(world):  # noqa: F811
    assert _cli("tenant", "add", "dan-corp", "--owner", "bob") == (
        "owner: the account 'bob' is taken or empty"
    )
    assert _cli("domain", "add", "x.example", "--alias", "sip.bob.example") == (
        "alias: sip.bob.example already belongs to domain bob.example"
    )
    assert _cli("domain", "add", "x.example", "--did", "op.example").startswith(
        "did: domain id op.example is taken"
    )
    refused = _cli("domain", "attr", "set", "bob.example", "realm=sip.bob.example")
    assert refused.endswith("Confirm that to go ahead. (--accept-password-reset)"), refused
