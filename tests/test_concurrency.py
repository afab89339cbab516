"""The rules hold when requests race: real parallel calls on PostgreSQL.

Every race runs its calls at the same instant (a barrier) in threads that each have their
own database connection, through the services and through the API over HTTP against the
live server; each race is repeated so that a lucky interleaving cannot hide a bug. Every
answer must be a success or the 400 a serial request gets, naming its field; never a 500.
"""

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from urllib.error import HTTPError

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.db.models import Model

from api.services import token_create
from audit.models import AuditEntry
from domains import services as domains
from domains.bulk import DomainColumnsImport, ImportRejected, import_domains_csv
from domains.dns.claims import domain_claim_start, domain_claim_verify
from domains.dns.housekeeping import housekeeping_run
from domains.dns.policy import DnsPolicy
from domains.dns.verification import domain_verify
from domains.models import (
    Domain,
    DomainCheck,
    DomainClaim,
    DomainName,
    DomainState,
    DomainTransition,
    HousekeepingRun,
    NameCheck,
    NameState,
    Tenant,
)
from domains.selectors import domain_realm
from proxies.models import Proxy
from serweb.bulk import Mode, import_file
from subscribers import digest
from subscribers import services as subscribers
from subscribers.bulk import import_subscribers
from subscribers.models import Subscriber, UserAlias, ValidFrom
from tests import dns_harness, helpers
from tests.dns_harness import PROXY_HOSTNAMES

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 8

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings
silent_port = dns_harness.silent_port


def in_parallel(*calls: Callable[[], object]) -> list[tuple[str, object]]:
    """Run the calls at once, each in its own thread and database connection; return
    ("ok", result), ("invalid", ValidationError), ("gone", ObjectDoesNotExist: what the
    call is about was deleted meanwhile, a 404 through the API) or ("error", exception)
    for each."""

    def outcome(index: int) -> tuple[str, object]:
        try:
            return ("ok", calls[index]())
        except ValidationError as exc:
            return ("invalid", exc)
        except ObjectDoesNotExist as exc:
            return ("gone", exc)
        except Exception as exc:  # what the test must never see
            return ("error", exc)

    return helpers.in_parallel(len(calls), outcome)


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


def _waiting_for_a_lock() -> bool:
    """Whether another connection to the test database waits for a lock."""
    with connection.cursor() as cursor:
        # Inside a transaction, the activity view is read once unless told otherwise.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


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
        assert assert_answers(answers, ok=201, field={"name", "aliases"}) == 1
        # What a serial request is told: the name, the alias or the did is taken (which
        # one, by the instant the winner committed between the checks), on its field.
        serial = ("already belongs to domain", "is taken by another domain")
        for status, refused in answers:
            if status == 400:
                [messages] = refused["fields"].values()
                assert any(m in messages[0] for m in serial), refused
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


def test_two_tenants_claiming_one_name_at_once_get_it_once(bob, charlie):
    for round_ in range(ROUNDS):
        name = f"wanted{round_}.example.org"
        DomainClaim.objects.all().delete()  # the tenants' limits of waiting claims aside
        outcomes = in_parallel(
            *(
                lambda who=who, name=name: domain_claim_start(
                    actor=who, tenant=who.tenant, name=name
                )
                for who in (bob, charlie)
            )
        )
        # The loser is told what a serial request is told, and not whose the name is.
        assert assert_clean(outcomes, serial_error="not available") == 1
        assert DomainClaim.objects.filter(name=name).count() == 1


def test_claims_made_at_once_do_not_pass_the_pending_limit_together(bob):
    Tenant.objects.filter(pk=bob.tenant.pk).update(pending_claim_limit=1)
    for round_ in range(ROUNDS):
        DomainClaim.objects.filter(tenant=bob.tenant).delete()
        outcomes = in_parallel(
            *(
                lambda name=f"p{round_}-{n}.example.org": domain_claim_start(
                    actor=bob, tenant=bob.tenant, name=name
                )
                for n in range(3)
            )
        )
        assert assert_clean(outcomes, serial_error="as many as may wait at once") == 1
        assert DomainClaim.objects.filter(tenant=bob.tenant).count() == 1


def test_claims_made_at_once_through_the_api_do_not_pass_the_quota(live_server, alice, bob):
    Tenant.objects.filter(pk=bob.tenant.pk).update(domain_quota=2)
    domains.domain_create(actor=alice, name="held.example.org", tenant=bob.tenant)
    tenant_http = Http(live_server, bob)
    answers = tenant_http.race(
        *(("POST", "/claims/", {"name": f"q{n}.example.org"}) for n in range(4))
    )
    assert assert_answers(answers, ok=201, field="name") == 1
    refused = [body for status, body in answers if status == 400]
    assert all("as many as your quota allows" in body["fields"]["name"][0] for body in refused)
    assert DomainClaim.objects.filter(tenant=bob.tenant).count() == 1


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


# --- DNS housekeeping and verification ---------------------------------------------------


def _lifecycle_domains(knot, alice, round_: int, count: int) -> tuple[list[Domain], set[int]]:
    """Domains each with a check row: every other one points at us (pending: to become
    active), the rest do not (active: to become suspect). Returns them and the pointing
    ones' ids."""
    made, pointing = [], set()
    for index in range(count):
        name = knot.unique(f"lc{round_}-")
        if index % 2 == 0:
            knot.srv(name, PROXY_HOSTNAMES[0])
            domain = domains.domain_create(actor=alice, name=name, state=DomainState.PENDING)
            pointing.add(domain.pk)
        else:
            domain = domains.domain_create(actor=alice, name=name)
        made.append(domain)
    DomainCheck.objects.bulk_create(DomainCheck(domain=domain) for domain in made)
    return made, pointing


def _one_by_one(call: Callable[[Domain], object], victims: list[Domain]) -> Callable[[], list]:
    """``call`` on each domain in turn, each read again first; what each one did (a domain
    deleted meanwhile is skipped, as a request for it gets 404)."""

    def run() -> list:
        done = []
        for victim in victims:
            try:
                done.append(call(Domain.objects.get(pk=victim.pk)))
            except ObjectDoesNotExist:
                done.append("gone")
        return done

    return run


def test_deletions_during_housekeeping_and_verifications(knot, dns_settings, alice):
    # Small batches: many transactions that each lock checks and domains.
    policy = replace(DnsPolicy.from_settings(), chunk_size=3, breaker_minimum=10**6)
    for round_ in range(3):
        made, pointing = _lifecycle_domains(knot, alice, round_, 30)
        victims = made[1::3]
        outcomes = in_parallel(
            lambda: housekeeping_run(slot=0, slots=1, policy=policy),
            _one_by_one(lambda d: domains.domain_delete(actor=alice, domain=d), victims[::-1]),
            _one_by_one(lambda d: domain_verify(actor=alice, domain=d), victims),
            _one_by_one(lambda d: domain_verify(actor=alice, domain=d), made[::-1]),
        )
        for kind, value in outcomes:
            assert kind == "ok", repr(value)
        (_kind, run), (_kind, deleted) = outcomes[:2]
        assert run.status == HousekeepingRun.Status.COMPLETED, run.message
        assert "gone" not in deleted
        gone = {victim.pk for victim in victims}
        assert not Domain.objects.filter(pk__in=gone).exists()
        assert not DomainCheck.objects.filter(domain_id__in=gone).exists()
        # Every other domain has what DNS said recorded, and moved as it says.
        for domain in Domain.objects.filter(pk__in=[d.pk for d in made]):
            check = DomainCheck.objects.get(domain=domain)
            if domain.pk in pointing:
                assert (domain.state, check.outcome) == (DomainState.ACTIVE, "positive")
            else:
                assert (domain.state, check.outcome) == (DomainState.SUSPECT, "negative")
                assert check.negatives == 1


@pytest.mark.parametrize(
    "check",
    [
        lambda victim: housekeeping_run(slot=0, slots=1),
        lambda victim: domain_verify(domain=Domain.objects.get(pk=victim.pk)),
    ],
    ids=["housekeeping", "verification"],
)
def test_a_deletion_under_way_is_waited_for_not_deadlocked(knot, dns_settings, alice, check):
    # Active, and DNS says it is not ours: the check would make it suspect.
    victim = domains.domain_create(actor=alice, name=knot.unique("gone"))
    DomainCheck.objects.create(domain=victim)
    with transaction.atomic():
        # The deletion's first step: the domain's lock, held until this block commits.
        domains.domain_lock(victim, deleting=True)
        outcome: list = []
        worker = threading.Thread(target=lambda: outcome.extend(in_parallel(lambda: check(victim))))
        worker.start()
        deadline = time.monotonic() + 10
        while worker.is_alive() and not _waiting_for_a_lock() and time.monotonic() < deadline:
            time.sleep(0.01)
        # The rest, down to the check row: it must not be the check's waiting for us.
        domains.domain_delete(actor=alice, domain=victim)
    worker.join(timeout=30)
    [(kind, value)] = outcome
    assert kind in {"ok", "gone"}, repr(value)
    assert not DomainCheck.objects.filter(domain_id=victim.pk).exists()


def _domains_with_aliases(knot, alice, round_: int, count: int) -> list[Domain]:
    """Domains whose canonical name and ``voip.`` alias point at us; their ``sip.`` alias
    has no records (NXDOMAIN): housekeeping makes it suspect."""
    made = []
    for _index in range(count):
        name = knot.unique(f"nm{round_}-")
        knot.srv(name, PROXY_HOSTNAMES[0])
        knot.srv(f"voip.{name}", PROXY_HOSTNAMES[1])
        made.append(
            domains.domain_create(actor=alice, name=name, aliases=[f"sip.{name}", f"voip.{name}"])
        )
    return made


def test_names_removed_by_an_operator_while_housekeeping_checks_them(knot, dns_settings, alice):
    # Small chunks: many transactions, each locking domains and their names' checks.
    policy = replace(DnsPolicy.from_settings(), chunk_size=4, breaker_minimum=10**6)
    for round_ in range(3):
        made = _domains_with_aliases(knot, alice, round_, 12)
        victims = made[::2]

        def remove_one_by_one(victims=victims) -> list:
            done = []
            for victim in victims:
                done.append(
                    domains.domain_name_remove(
                        actor=alice,
                        domain=Domain.objects.get(pk=victim.pk),
                        name=f"sip.{victim.did}",
                    )
                )
            return done

        outcomes = in_parallel(
            lambda: housekeeping_run(slot=0, slots=1, policy=policy),
            remove_one_by_one,
            _one_by_one(lambda d: domain_verify(actor=alice, domain=d), made[::-1]),
        )
        for kind, value in outcomes:
            assert kind == "ok", repr(value)
        run = outcomes[0][1]
        assert run.status == HousekeepingRun.Status.COMPLETED, run.message
        removed = [f"sip.{victim.did}" for victim in victims]
        assert not DomainName.objects.filter(name__in=removed).exists()
        assert not NameCheck.objects.filter(name__name__in=removed).exists()
        for domain in made:
            domain.refresh_from_db()
            assert domain.state == DomainState.ACTIVE
            states = dict(
                NameCheck.objects.filter(name__domain=domain).values_list("name__name", "state")
            )
            assert states[domain.did] == states[f"voip.{domain.did}"] == NameState.ACTIVE
            if domain not in victims:
                assert states[f"sip.{domain.did}"] == NameState.SUSPECT


def test_a_name_removal_under_way_is_waited_for_by_housekeeping(knot, dns_settings, alice):
    [domain] = _domains_with_aliases(knot, alice, 9, 1)
    alias = f"sip.{domain.did}"
    with transaction.atomic():
        # The removal's first step: the domain's lock, held until this block commits.
        domains.domain_lock(domain)
        outcome: list = []
        worker = threading.Thread(
            target=lambda: outcome.extend(in_parallel(lambda: housekeeping_run(slot=0, slots=1)))
        )
        worker.start()
        deadline = time.monotonic() + 10
        while worker.is_alive() and not _waiting_for_a_lock() and time.monotonic() < deadline:
            time.sleep(0.01)
        domains.domain_name_remove(actor=alice, domain=domain, name=alias)
    worker.join(timeout=30)
    [(kind, run)] = outcome
    assert kind == "ok", repr(run)
    assert run.status == HousekeepingRun.Status.COMPLETED
    # The removed name is skipped: no check row, no move, and the others are recorded.
    assert not NameCheck.objects.filter(name__name=alias).exists()
    assert not DomainTransition.objects.filter(name=alias).exists()
    assert set(NameCheck.objects.values_list("name__name", "state")) == {
        (domain.did, NameState.ACTIVE),
        (f"voip.{domain.did}", NameState.ACTIVE),
    }


def test_parallel_runs_of_one_slot_run_it_once(alice, settings, silent_port):
    # A resolver that never answers: each run lasts until its DNS lifetime is over, long
    # enough that the three overlap however late a loaded machine starts a thread (with
    # 200 ms, one run could end before another began: two runs one after the other).
    settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]
    settings.SERWEB_DNS_TIMEOUT_MS = settings.SERWEB_DNS_LIFETIME_MS = 2000
    domains.domain_create(actor=alice, name="slow.example")
    for _round in range(ROUNDS):
        before = HousekeepingRun.objects.count()
        run = lambda: housekeeping_run(slot=0, slots=1)  # noqa: E731
        outcomes = in_parallel(run, run, run)
        assert [kind for kind, _value in outcomes] == ["ok"] * 3, outcomes
        started = [value for _kind, value in outcomes if value is not None]
        assert len(started) == 1, started
        assert HousekeepingRun.objects.count() == before + 1
        assert started[0].status == HousekeepingRun.Status.COMPLETED


# --- bulk imports against the one-by-one services -----------------------------------------

DATABASE_WORDS = ("duplicate key", "violates", "constraint", "IntegrityError", "DETAIL")


def assert_no_database_text(messages: list[str]) -> None:
    for message in messages:
        assert not any(word in message for word in DATABASE_WORDS), message


def test_a_domain_imported_while_it_is_created(alice, tmp_path):
    for round_ in range(ROUNDS):
        name = f"r{round_}.example"
        path = tmp_path / f"{round_}.csv"
        path.write_text(f"name,aliases\nfirst{round_}.example,\n{name},sip.{name}\n")
        outcomes = in_parallel(
            lambda path=path: import_domains_csv(actor=alice, path=path),
            # The same names in the other order.
            lambda n=name: domains.domain_create(actor=alice, name=f"sip.{n}", aliases=[n]),
        )
        assert assert_clean(outcomes) == 1
        for kind, value in outcomes:
            if kind != "invalid":
                continue
            assert_no_database_text(value.messages)
            if isinstance(value, ImportRejected):
                assert {error.line for error in value.errors} == {3}, value.errors
                serial = ("already belongs to domain", "is taken by another domain")
                assert all(any(s in e.message for s in serial) for e in value.errors)
        imported = outcomes[0][0] == "ok"
        assert Domain.objects.filter(did=f"first{round_}.example").exists() == imported
        assert DomainName.objects.filter(name__in=[name, f"sip.{name}"]).count() == 2


def test_a_portal_import_skips_the_row_a_concurrent_creation_took(alice, tmp_path):
    for round_ in range(ROUNDS):
        name = f"p{round_}.example"
        path = tmp_path / f"p{round_}.csv"
        path.write_text(f"name,aliases\nfirst{round_}.example,\n{name},sip.{name}\n")
        outcomes = in_parallel(
            lambda path=path: import_file(
                DomainColumnsImport, actor=alice, path=path, mode=Mode.SKIP_BAD_ROWS
            ),
            lambda n=name: domains.domain_create(actor=alice, name=f"sip.{n}", aliases=[n]),
        )
        kind, report = outcomes[0]
        # The import never fails: it writes the row, or refuses it with the serial answer.
        assert kind == "ok", report
        assert Domain.objects.filter(did=f"first{round_}.example").exists()
        if report.errors:
            assert report.refused_lines == [3], report.errors
            assert_no_database_text([e.message for e in report.errors])
            assert outcomes[1][0] == "ok"
        else:
            assert outcomes[1][0] == "invalid"
        assert DomainName.objects.filter(name__in=[name, f"sip.{name}"]).count() == 2


def test_a_domain_imported_through_the_api_while_it_is_created(http):
    for round_ in range(ROUNDS):
        name = f"r{round_}.example"
        answers = http.race(
            ("POST", "/domains-bulk/", [{"name": f"first{round_}.example"}, {"name": name}]),
            ("POST", "/domains/", {"name": name}),
        )
        (bulk_status, bulk), (create_status, created) = answers
        assert {bulk_status, create_status} == {201, 400}, answers
        refused = bulk if bulk_status == 400 else created
        assert refused["code"] == "invalid"
        assert set(refused["fields"]) == ({"1"} if bulk_status == 400 else {"name"}), refused
        assert_no_database_text([m for ms in refused["fields"].values() for m in ms])


def test_a_subscriber_import_while_the_realm_changes(alice):
    for round_ in range(ROUNDS):
        domain = _domain(alice, round_)
        rows = [
            {"username": f"u{i}", "domain": domain.did, "password": "x" * 12} for i in range(300)
        ]
        outcomes = in_parallel(
            lambda rows=rows: import_subscribers(actor=alice, rows=rows),
            fresh(
                domain,
                lambda d, r=round_: domains.domain_attribute_set(
                    actor=alice, domain=d, name="realm", value=f"realm{r}.example"
                ),
            ),
        )
        # The realm changed first, or the import went first and the change, without
        # consent to strand the new passwords, was refused.
        assert assert_clean(outcomes) >= 1
        realm = domain_realm(Domain.objects.get(pk=domain.pk))
        users = Subscriber.objects.filter(domain=domain)
        assert users.count() == (300 if outcomes[0][0] == "ok" else 0)
        for user in users:
            assert (user.ha1_realm, user.ha1) == (realm, digest.ha1(user.username, realm, "x" * 12))


# --- a tenant's realm names a domain of its own -------------------------------------------


def _bob_domains(alice, bob) -> tuple[Domain, Domain]:
    tenant = bob.tenant
    first = domains.domain_create(
        actor=alice, name="d.example", aliases=["realm.d.example"], tenant=tenant
    )
    second = domains.domain_create(
        actor=alice, name="e.example", aliases=["realm.e.example"], tenant=tenant
    )
    return first, second


@pytest.mark.parametrize(
    "take_away",
    [
        lambda alice, charlie, e: domains.domain_set_tenant(
            actor=alice, domain=e, tenant=charlie.tenant
        ),
        lambda alice, charlie, e: domains.domain_name_remove(
            actor=alice, domain=e, name="realm.e.example"
        ),
        lambda alice, charlie, e: domains.domain_delete(actor=alice, domain=e),
    ],
    ids=["moved", "name-removed", "deleted"],
)
def test_a_realm_naming_a_domain_taken_away_meanwhile_is_refused(alice, bob, charlie, take_away):
    d, e = _bob_domains(alice, bob)
    set_realm = fresh(
        d,
        lambda d: domains.domain_attribute_set(
            actor=bob, domain=d, name="realm", value="realm.e.example"
        ),
    )
    with transaction.atomic():
        take_away(alice, charlie, e)  # holds e's lock until this block commits
        outcome: list = []
        worker = threading.Thread(target=lambda: outcome.extend(in_parallel(set_realm)))
        worker.start()
        deadline = time.monotonic() + 10
        while worker.is_alive() and not _waiting_for_a_lock() and time.monotonic() < deadline:
            time.sleep(0.01)
    worker.join(timeout=30)
    [(kind, value)] = outcome
    assert kind == "invalid", value
    assert "is not a name of one of your domains" in value.messages[0]
    assert not d.attributes.filter(name="realm").exists()


def test_realms_naming_each_others_domains_set_in_parallel(alice, bob):
    for _round in range(ROUNDS):
        d, e = _bob_domains(alice, bob)

        def realm(domain, value):
            return fresh(
                domain,
                lambda x: domains.domain_attribute_set(
                    actor=bob, domain=x, name="realm", value=value
                ),
            )

        outcomes = in_parallel(realm(d, "realm.e.example"), realm(e, "realm.d.example"))
        assert assert_clean(outcomes) == 2
        assert domain_realm(d) == "realm.e.example" and domain_realm(e) == "realm.d.example"
        for domain in (d, e):
            domains.domain_delete(actor=alice, domain=domain)
