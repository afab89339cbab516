"""The rules hold when requests race: real parallel calls on PostgreSQL.

Every race runs its calls at the same instant (a barrier) in threads that each have their
own database connection, through the services and through the API over HTTP against the
live server; each race is repeated so that a lucky interleaving cannot hide a bug. Every
answer must be a success or the 400 a serial request gets, naming its field; never a 500.
"""

import json
import threading
import urllib.request
from collections.abc import Callable
from urllib.error import HTTPError

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection
from django.db.models import Model

from api.services import token_create
from audit.models import AuditEntry
from domains import services as domains
from domains.claims import domain_claim_start, domain_claim_verify
from domains.models import Domain, DomainClaim, DomainName, Proxy, Tenant
from subscribers import services as subscribers
from subscribers.bulk import import_subscribers
from subscribers.models import Subscriber, UserAlias, ValidFrom
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 8

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings


def in_parallel(*calls: Callable[[], object]) -> list[tuple[str, object]]:
    """Run the calls at once, each in its own thread and database connection; return
    ("ok", result), ("invalid", ValidationError), ("gone", ObjectDoesNotExist: what the
    call is about was deleted meanwhile, a 404 through the API) or ("error", exception)
    for each."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, object]] = [("error", "did not run")] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", call())
        except ValidationError as exc:
            outcomes[index] = ("invalid", exc)
        except ObjectDoesNotExist as exc:
            outcomes[index] = ("gone", exc)
        except Exception as exc:  # what the test must never see
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def fresh(obj: Model, call: Callable[[Model], object]) -> Callable[[], object]:
    """``call`` with ``obj`` read again in the thread that runs it, as each request reads
    its own copy."""
    return lambda: call(type(obj).objects.get(pk=obj.pk))


def assert_clean(outcomes: list[tuple[str, object]], *, serial_error: str | None = None) -> int:
    """No call failed other than with a ValidationError (containing ``serial_error``, the
    message a serial call gets, when given) or by finding its object deleted; return how
    many succeeded."""
    for kind, value in outcomes:
        assert kind in {"ok", "invalid", "gone"}, repr(value)
        if kind == "invalid" and serial_error is not None:
            assert any(serial_error in m for m in value.messages), value.messages
    return sum(kind == "ok" for kind, _value in outcomes)


class Http:
    """A person's real HTTP requests to the live server, with an API token."""

    def __init__(self, live_server, user):
        _token, self.key = token_create(actor=None, user=user, name="races")
        self.base = f"{live_server.url}/api/v1"

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except HTTPError as error:
            status, raw = error.code, error.read()
        return status, json.loads(raw) if raw else {}

    def race(self, *requests: tuple) -> list[tuple[int, dict]]:
        outcomes = in_parallel(*(lambda r=r: self(*r) for r in requests))
        for kind, value in outcomes:
            assert kind == "ok", repr(value)
        return [value for _kind, value in outcomes]


def assert_answers(answers: list[tuple[int, dict]], *, ok: int, field: str | set[str]) -> int:
    """Each answer is a success (``ok``) or a 400 naming ``field`` (one of them), never a
    500; return how many succeeded."""
    fields = {field} if isinstance(field, str) else field
    for status, body in answers:
        assert status in {ok, 400}, (status, body)
        if status == 400:
            assert body["code"] == "invalid" and fields & body["fields"].keys(), body
    return sum(status == ok for status, _body in answers)


@pytest.fixture
def http(live_server, alice):
    return Http(live_server, alice)


def _domain(alice, round_: int, *aliases: str) -> Domain:
    return domains.domain_create(actor=alice, name=f"r{round_}.example", aliases=aliases)


def _domain_with_sam(alice, round_: int) -> tuple[Domain, Subscriber]:
    domain = _domain(alice, round_)
    sam = subscribers.subscriber_create(
        actor=alice, domain=domain, username="sam", password="sam-secret"
    )
    return domain, sam


def _alias_100_to(alice, sam: Subscriber) -> Callable[[], object]:
    return fresh(
        sam,
        lambda s: subscribers.user_alias_add(
            actor=alice, domain=s.domain, username="100", subscriber=s
        ),
    )


def _holders_of_100(domain: Domain) -> int:
    """How many subscribers and user aliases of the domain are called 100."""
    subscribers_called = Subscriber.objects.filter(domain=domain, username="100").count()
    return subscribers_called + UserAlias.objects.filter(domain=domain, username="100").count()


def _names(domain: Domain) -> list[tuple[str, bool]]:
    return list(DomainName.objects.filter(domain=domain).values_list("name", "is_canonical"))


# --- a domain's names ---------------------------------------------------------------------


def test_parallel_removals_of_both_names_leave_one_through_the_services(alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_, f"sip.r{round_}.example")
        outcomes = in_parallel(
            fresh(domain, lambda d: domains.domain_name_remove(actor=alice, domain=d, name=d.did)),
            fresh(
                domain,
                lambda d: domains.domain_name_remove(actor=alice, domain=d, name=f"sip.{d.did}"),
            ),
        )
        assert assert_clean(outcomes, serial_error="is the only name of domain") == 1
        ((_name, canonical),) = _names(domain)
        assert canonical


def test_parallel_removals_of_both_names_leave_one_through_the_api(http, alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_, f"sip.r{round_}.example")
        answers = http.race(
            ("DELETE", f"/domains/{domain.did}/names/{domain.did}/"),
            ("DELETE", f"/domains/{domain.did}/names/sip.{domain.did}/"),
        )
        assert assert_answers(answers, ok=204, field="name") == 1
        status, detail = http("GET", f"/domains/{domain.did}/")
        assert status == 200 and len(detail["names"]) == 1, detail
        assert detail["canonical_name"] == detail["names"][0]["name"]
    assert http("GET", "/domains/")[0] == 200


def test_parallel_canonical_changes_leave_one_canonical_name(http, alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_, f"a.r{round_}.example", f"b.r{round_}.example")
        answers = http.race(
            ("POST", f"/domains/{domain.did}/names/a.{domain.did}/canonical/"),
            ("POST", f"/domains/{domain.did}/names/b.{domain.did}/canonical/"),
            ("POST", f"/domains/{domain.did}/names/b.{domain.did}/canonical/"),
        )
        assert assert_answers(answers, ok=200, field="name") == 3
        canonical = [name for name, is_canonical in _names(domain) if is_canonical]
        assert len(canonical) == 1
        assert http("GET", f"/domains/{domain.did}/")[1]["canonical_name"] == canonical[0]


def test_a_name_removed_while_it_becomes_canonical(alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_, f"sip.r{round_}.example")
        outcomes = in_parallel(
            fresh(
                domain,
                lambda d: domains.domain_name_remove(actor=alice, domain=d, name=f"sip.{d.did}"),
            ),
            fresh(
                domain,
                lambda d: domains.domain_make_canonical(actor=alice, domain=d, name=f"sip.{d.did}"),
            ),
        )
        assert assert_clean(outcomes) >= 1
        names = _names(domain)
        assert names and [canonical for _n, canonical in names].count(True) == 1, names


def test_parallel_identical_domains(http, alice):
    for round_ in range(ROUNDS):
        body = {"name": f"r{round_}.example", "aliases": [f"sip.r{round_}.example"]}
        answers = http.race(*[("POST", "/domains/", body)] * 3)
        assert assert_answers(answers, ok=201, field="name") == 1
        # What a serial request is told: the names or the did are taken (which one, by
        # the instant the winner committed between the two checks).
        serial = ("already belongs to domain", "is taken by another domain")
        for status, refused in answers:
            if status == 400:
                assert any(m in refused["fields"]["name"][0] for m in serial), refused
        assert Domain.objects.filter(did=f"r{round_}.example").count() == 1


# --- subscribers and their identities -----------------------------------------------------


def test_parallel_identical_valid_from_rows(http, alice):
    for round_ in range(ROUNDS):
        domain, _sam = _domain_with_sam(alice, round_)
        path = f"/domains/{domain.did}/subscribers/sam/valid-from/"
        answers = http.race(*[("POST", path, {"from_user": "boss"})] * 3)
        assert assert_answers(answers, ok=201, field="from_user") == 1
        assert ValidFrom.objects.filter(subscriber__domain=domain, from_user="boss").count() == 1


def test_parallel_identical_subscribers(http, alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_)
        body = {"username": "sam", "password": "sam-secret"}
        answers = http.race(*[("POST", f"/domains/{domain.did}/subscribers/", body)] * 3)
        assert assert_answers(answers, ok=201, field="username") == 1
        refused = [body for status, body in answers if status == 400]
        assert all("exists already" in b["fields"]["username"][0] for b in refused)


def test_parallel_identical_user_aliases(http, alice):
    for round_ in range(ROUNDS):
        domain, _sam = _domain_with_sam(alice, round_)
        body = {"username": "100", "subscriber": "sam"}
        answers = http.race(*[("POST", f"/domains/{domain.did}/aliases/", body)] * 3)
        assert assert_answers(answers, ok=201, field="username") == 1
        assert _holders_of_100(domain) == 1


def test_a_subscriber_and_a_user_alias_of_one_name_through_the_api(http, alice):
    for round_ in range(ROUNDS):
        domain, _sam = _domain_with_sam(alice, round_)
        answers = http.race(
            ("POST", f"/domains/{domain.did}/aliases/", {"username": "100", "subscriber": "sam"}),
            (
                "POST",
                f"/domains/{domain.did}/subscribers/",
                {"username": "100", "password": "x" * 12},
            ),
        )
        assert assert_answers(answers, ok=201, field="username") == 1
        assert _holders_of_100(domain) == 1


def _subscriber_100(domain: Domain, alice) -> object:
    return subscribers.subscriber_create(
        actor=alice, domain=domain, username="100", password="x" * 12
    )


def _imported_subscriber_100(domain: Domain, alice) -> object:
    rows = [{"username": "100", "domain": domain.did, "password": "x" * 12}]
    return import_subscribers(actor=alice, rows=rows)


@pytest.mark.parametrize("create_100", [_subscriber_100, _imported_subscriber_100])
def test_a_subscriber_and_a_user_alias_of_one_name_through_the_services(alice, create_100):
    for round_ in range(ROUNDS):
        domain, sam = _domain_with_sam(alice, round_)
        outcomes = in_parallel(
            _alias_100_to(alice, sam), fresh(domain, lambda d: create_100(d, alice))
        )
        assert assert_clean(outcomes) == 1
        assert _holders_of_100(domain) == 1


def test_an_alias_added_while_its_subscriber_is_deleted(alice):
    for round_ in range(ROUNDS):
        domain, sam = _domain_with_sam(alice, round_)
        outcomes = in_parallel(
            _alias_100_to(alice, sam),
            fresh(sam, lambda s: subscribers.subscriber_delete(actor=alice, subscriber=s)),
            fresh(
                sam,
                lambda s: subscribers.valid_from_add(actor=alice, subscriber=s, from_user="boss"),
            ),
        )
        assert assert_clean(outcomes) >= 1
        assert not Subscriber.objects.filter(domain=domain).exists()
        assert not UserAlias.objects.filter(domain=domain).exists()
        assert not ValidFrom.objects.filter(subscriber__domain=domain).exists()


def test_a_subscriber_created_while_its_domain_is_deleted(alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_)
        outcomes = in_parallel(
            fresh(
                domain,
                lambda d: subscribers.subscriber_create(
                    actor=alice, domain=d, username="sam", password="sam-secret"
                ),
            ),
            fresh(domain, lambda d: domains.domain_delete(actor=alice, domain=d)),
        )
        # The deletion went first (the creation found no domain), or the creation did
        # (the deletion, unforced, refused to take a subscriber with it).
        assert assert_clean(outcomes) == 1
        assert Domain.objects.filter(did=domain.did).exists() == (
            Subscriber.objects.filter(domain__did=domain.did, username="sam").exists()
        )


# --- proxies and tenants ------------------------------------------------------------------


def test_parallel_identical_proxies(http):
    for round_ in range(ROUNDS):
        body = {"name": f"kam{round_}", "transport": "udp", "address": "127.0.0.1:9"}
        answers = http.race(*[("POST", "/proxies/", body)] * 3)
        assert assert_answers(answers, ok=201, field="name") == 1
        assert Proxy.objects.filter(name=f"kam{round_}").count() == 1


def test_parallel_identical_tenants(http):
    for round_ in range(ROUNDS):
        answers = http.race(
            ("POST", "/tenants/", {"name": f"Acme{round_}", "owner": f"acme{round_}"}),
            ("POST", "/tenants/", {"name": f"Acme{round_}", "owner": f"acme{round_}"}),
            ("POST", "/tenants/", {"name": f"ACME{round_}", "owner": f"boss{round_}"}),
        )
        # The name or the owner account is taken, as a serial request is told.
        assert assert_answers(answers, ok=201, field={"name", "owner"}) == 1
        assert Tenant.objects.filter(name__iexact=f"acme{round_}").count() == 1
        # The refused requests left no owner account behind.
        owners = get_user_model().objects.filter(username__in=[f"acme{round_}", f"boss{round_}"])
        assert owners.count() == 1


# --- tenant claims ------------------------------------------------------------------------


def test_parallel_verifications_of_a_proven_claim_grant_one_domain(knot, dns_settings, bob):
    for round_ in range(ROUNDS // 2):
        name = knot.unique(f"race{round_}-")
        knot.srv(name, PROXY_HOSTNAMES[0])
        claim = domain_claim_start(actor=bob, tenant=bob.tenant, name=name)
        knot.add(f"_serweb-challenge.{name}", "TXT", f'"{claim.token}"')

        def verify(pk=claim.pk):
            return domain_claim_verify(actor=bob, claim=DomainClaim.objects.get(pk=pk))

        outcomes = in_parallel(verify, verify)
        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        assert {value.did for _kind, value in outcomes} == {name}
        assert Domain.objects.filter(did=name, tenant=bob.tenant).count() == 1


# --- one write, one audit entry -----------------------------------------------------------


def test_parallel_unsets_of_an_attribute_record_one_change(alice):
    for round_ in range(ROUNDS):
        domain = domains.domain_create(
            actor=alice, name=f"r{round_}.example", attributes={"max_contacts": "3"}
        )
        unset = fresh(
            domain,
            lambda d: domains.domain_attribute_unset(actor=alice, domain=d, name="max_contacts"),
        )
        outcomes = in_parallel(unset, unset, unset)
        assert assert_clean(outcomes, serial_error="has no operator attribute") == 1
        unsets = AuditEntry.objects.filter(did=domain.did, action="domain.attr_unset")
        assert unsets.count() == 1
