"""The audit trail belongs to the object and to its owner at the time, not to a name.

bob's domain is deleted and its did given to charlie; domains move between tenants; an
operator's login is never shown to a tenant.
"""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import ActorRole, AuditEntry
from audit.services import audit_channel, audit_record
from domains.models import Domain, DomainOrigin, Tenant
from domains.services import domain_create, domain_delete, domain_set_tenant
from serweb.commandbase import system_login
from subscribers.services import subscriber_create, subscriber_update
from tests.api_helpers import client_for, world  # noqa: F401

# What bob's domain held, which nobody else may ever read in the trail.
BOB_SECRETS = ["sam@bob.example", "tom@bob.example", "100@bob.example", "bob-corp"]
CHARLIE_SECRETS = ["zoe@bob.example", "555@bob.example", "charlie-corp"]


def entries(user, query: str = "") -> list[dict]:
    response = client_for(user).get(f"/api/v1/audit/{query}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def body(user, query: str = "") -> str:
    return json.dumps(entries(user, query))


def tenant_of(user) -> Tenant:
    return Tenant.objects.get(owner=user)


def add_user(client, username: str) -> None:
    response = client.post(
        "/api/v1/domains/bob.example/subscribers/",
        {
            "username": username,
            "password": f"{username}-secret",
            "email": f"{username}@bob.example",
        },
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.fixture
def reused_did(world, alice, bob, charlie):  # noqa: F811
    """bob's bob.example, with subscribers, e-mails and a phone number, deleted by the
    operator; then the did created again for charlie, who adds users of his own."""
    add_user(client_for(bob), "tom")
    subscriber_update(actor=alice, subscriber=world["sam"], email="sam@bob.example")
    old_id = world["bob_domain"].pk  # Django clears the pk of the object it deletes
    domain_delete(actor=alice, domain=world["bob_domain"], force=True)

    reborn = domain_create(
        actor=alice, name="bob.example", tenant=tenant_of(charlie), origin=DomainOrigin.TENANT
    )
    charlie_client = client_for(charlie)
    add_user(charlie_client, "zoe")
    alias = charlie_client.post(
        "/api/v1/domains/bob.example/aliases/", {"username": "555", "subscriber": "zoe"}, "json"
    )
    assert alias.status_code == 201, alias.content
    return {"old_id": old_id, "new": reborn}


def test_the_new_owner_of_a_reused_did_reads_none_of_the_old_owners_history(reused_did, charlie):
    seen = entries(charlie)
    assert [(e["action"], e["object_repr"]) for e in seen] == [
        ("alias.add", "555@bob.example"),
        ("subscriber.create", "zoe@bob.example"),
        ("domain.create", "bob.example"),
    ]
    assert {e["tenant"] for e in seen} == {"charlie-corp"}
    everything = body(charlie) + body(charlie, "?did=bob.example")
    for secret in BOB_SECRETS:
        assert secret not in everything
    assert entries(charlie, "?did=bob.example") == seen


def test_the_old_owner_keeps_its_history_and_reads_nothing_of_the_new_owner(reused_did, bob):
    seen = entries(bob)
    assert [(e["action"], e["object_repr"]) for e in seen] == [
        ("domain.delete", "bob.example"),
        ("subscriber.update", "sam@bob.example"),
        ("subscriber.create", "tom@bob.example"),
        ("alias.add", "100@bob.example"),
        ("subscriber.create", "sam@bob.example"),
        ("domain.create", "bob.example"),
    ]
    everything = body(bob) + body(bob, "?did=bob.example") + body(bob, "?domain=bob.example")
    for secret in CHARLIE_SECRETS:
        assert secret not in everything
    # The domain that holds the did now is not the one bob's history is about.
    assert entries(bob, "?domain=bob.example") == []


def test_entries_keep_the_id_of_their_deleted_domain(reused_did, alice):
    old_id, new = reused_did["old_id"], reused_did["new"]
    assert old_id is not None and old_id != new.pk
    assert set(
        AuditEntry.objects.filter(did="bob.example").values_list("domain_id", flat=True)
    ) == {old_id, new.pk}
    # Operators read both; ?domain= is the history of the domain holding the did now.
    assert len(entries(alice, "?did=bob.example")) == 9
    assert {e["tenant"] for e in entries(alice, "?domain=bob.example")} == {"charlie-corp"}
    assert len(entries(alice, "?domain=bob.example")) == 3


@pytest.fixture
def moved(world, alice, bob, charlie):  # noqa: F811
    """bob's domain given to charlie by an operator through the API; then users added."""
    subscriber_update(actor=alice, subscriber=world["sam"], email="sam@bob.example")
    response = client_for(alice).patch(
        "/api/v1/domains/bob.example/", {"tenant": "charlie-corp"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["tenant"] == "charlie-corp"
    subscriber_create(
        actor=charlie,
        domain=Domain.objects.get(did="bob.example"),
        username="zoe",
        password="zoe-secret",
        email="zoe@bob.example",
    )
    return world


def test_a_moved_domain_leaves_its_history_with_the_old_owner(moved, bob, charlie):
    bob_seen = entries(bob)
    assert [e["action"] for e in bob_seen] == [
        "domain.tenant_remove",
        "subscriber.update",
        "alias.add",
        "subscriber.create",
        "domain.create",
    ]
    assert bob_seen[0]["before"] == {"tenant": "bob-corp"}
    assert bob_seen[0]["after"] == {"tenant": None}
    assert "zoe" not in body(bob) and "charlie-corp" not in body(bob)

    charlie_seen = entries(charlie)
    assert [e["action"] for e in charlie_seen] == ["subscriber.create", "domain.tenant_add"]
    assert charlie_seen[1]["before"] == {"tenant": None}
    assert charlie_seen[1]["after"] == {"tenant": "charlie-corp"}
    for secret in ["sam@bob.example", "100@bob.example", "bob-corp"]:
        assert secret not in body(charlie)


def test_a_domain_taken_away_writes_for_operators_only_from_then_on(moved, alice, charlie):
    response = client_for(alice).patch(
        "/api/v1/domains/bob.example/", {"tenant": None}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["tenant"] is None
    domain = Domain.objects.get(did="bob.example")
    subscriber_create(actor=alice, domain=domain, username="ops", password="ops-secret")
    assert [e["action"] for e in entries(charlie)] == [
        "domain.tenant_remove",
        "subscriber.create",
        "domain.tenant_add",
    ]
    ops = AuditEntry.objects.get(object_repr="ops@bob.example")
    assert (ops.tenant_id, ops.domain_id) == (None, domain.pk)


def test_a_write_through_a_domain_read_before_the_move_goes_to_the_new_owner(
    world,  # noqa: F811
    alice,
    bob,
    charlie,
):
    stale = Domain.objects.get(did="bob.example")  # read while bob owns it
    domain_set_tenant(actor=alice, domain=world["bob_domain"], tenant=tenant_of(charlie))
    assert stale.tenant_id == tenant_of(bob).pk
    subscriber_create(actor=alice, domain=stale, username="zoe", password="zoe-secret")
    entry = AuditEntry.objects.get(action="subscriber.create", object_repr="zoe@bob.example")
    assert entry.tenant == tenant_of(charlie)


def test_moving_to_the_same_tenant_writes_nothing(world, alice, bob):  # noqa: F811
    count = AuditEntry.objects.count()
    domain_set_tenant(actor=alice, domain=world["bob_domain"], tenant=tenant_of(bob))
    assert AuditEntry.objects.count() == count


def test_the_cli_moves_a_domain_and_splits_its_history(world, alice, bob, charlie):  # noqa: F811
    out = io.StringIO()
    call_command("domain", "tenant", "sip.bob.example", "charlie-corp", stdout=out)
    assert out.getvalue().strip() == "domain bob.example belongs to tenant charlie-corp"
    assert Domain.objects.get(did="bob.example").tenant == tenant_of(charlie)
    assert entries(bob)[0]["action"] == "domain.tenant_remove"
    assert [e["action"] for e in entries(charlie)] == ["domain.tenant_add"]
    # The CLI is the operator's: a tenant is told so, not "system".
    assert entries(charlie)[0]["actor_name"] == "operator"

    call_command("domain", "tenant", "bob.example", "--none", "--as", "alice", stdout=io.StringIO())
    assert Domain.objects.get(did="bob.example").tenant is None
    taken = entries(charlie)[0]
    assert (taken["action"], taken["actor_name"]) == ("domain.tenant_remove", "operator")
    assert entries(alice, "?action=domain.tenant_remove")[0]["actor_name"] == "alice"


# --- whose names a tenant reads ---------------------------------------------------------


@pytest.fixture
def acted_on(world, alice, bob):  # noqa: F811
    """bob's domain changed by bob, by the operator alice, by a task and by the CLI."""
    client_for(bob).patch(
        "/api/v1/domains/bob.example/subscribers/sam/", {"email": "sam@bob.example"}, "json"
    )
    client_for(alice).put(
        "/api/v1/domains/bob.example/attributes/max_contacts/", {"value": "4"}, format="json"
    )
    with audit_channel("task"):
        subscriber_update(actor=None, subscriber=world["sam"], enabled=False)
    call_command(
        "subscriber", "passwd", "sam@bob.example", "--password", "sam-new-pw", stdout=io.StringIO()
    )
    return world


def test_a_tenant_reads_its_own_login_and_only_roles_for_anyone_else(acted_on, bob):
    seen = entries(bob)
    assert [(e["action"], e["channel"], e["actor_name"]) for e in seen] == [
        ("subscriber.password", "cli", "operator"),
        ("subscriber.update", "task", "system"),
        ("domain.attr_set", "api", "operator"),
        ("subscriber.update", "api", "bob"),
        ("alias.add", "code", "operator"),
        ("subscriber.create", "code", "operator"),
        ("domain.create", "code", "operator"),
    ]
    assert "alice" not in body(bob) and system_login() not in body(bob)


def test_a_tenant_cannot_find_an_operators_login_by_filtering(acted_on, bob):
    assert entries(bob, "?actor_name=alice") == []
    assert len(entries(bob, "?actor_name=operator")) == 5
    assert [e["action"] for e in entries(bob, "?actor_name=bob")] == ["subscriber.update"]


def test_operators_read_every_login(acted_on, alice):
    names = {e["actor_name"] for e in entries(alice, "?did=bob.example")}
    assert names == {"alice", "bob", "system", system_login()}
    roles = set(AuditEntry.objects.values_list("actor_name", "actor_role"))
    assert roles == {
        ("alice", ActorRole.OPERATOR),
        ("bob", ActorRole.TENANT),
        ("system", ActorRole.SYSTEM),
        (system_login(), ActorRole.OPERATOR),  # the CLI
    }


def test_a_tenant_reads_its_claims_and_no_one_elses(bob, charlie):
    response = client_for(charlie).post(
        "/api/v1/claims/", {"name": "shop.charlie-claims.net"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert [e["action"] for e in entries(charlie)] == ["domain.claim_start"]
    assert entries(bob) == []


def test_an_entry_given_a_did_alone_belongs_to_the_domain_holding_it_now(world, bob):  # noqa: F811
    entry = audit_record(
        actor=None, action="test.note", object_type="domain", object_repr="x", did="bob.example"
    )
    assert (entry.domain_id, entry.tenant) == (world["bob_domain"].pk, tenant_of(bob))
    orphan = audit_record(
        actor=None, action="test.note", object_type="domain", object_repr="x", did="gone.example"
    )
    assert (orphan.domain_id, orphan.tenant_id) == (None, None)


# --- the migration of the entries written before domains and owners were recorded --------


@pytest.mark.django_db(transaction=True)
def test_old_entries_go_to_the_domain_holding_their_did_since_it_exists(alice, bob, charlie):
    before, after = ("audit", "0001_initial"), ("audit", "0003_tie_old_entries_to_domains")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old_entry = executor.loader.project_state([before]).apps.get_model("audit", "AuditEntry")

        def legacy(did: str, **fields):
            defaults = {"actor_name": "system", "channel": "task"}
            return old_entry.objects.create(
                action="x", object_type="domain", object_repr=did, did=did, **defaults | fields
            ).pk

        # charlie's reused.example is newer than the entry: it is about an earlier domain.
        earlier = legacy("reused.example", actor_id=alice.pk, actor_name="alice", channel="api")
        kept = Domain.objects.create(did="kept.example", tenant=tenant_of(bob))
        reused = Domain.objects.create(did="reused.example", tenant=tenant_of(charlie))
        ids = {
            "kept": legacy("kept.example", actor_id=bob.pk, actor_name="bob", channel="api"),
            "earlier": earlier,
            "gone": legacy("gone.example"),
            "cli": legacy("kept.example", channel="cli"),
            "deleted_user": legacy("kept.example", actor_name="dan", channel="api"),
            "reused": legacy("reused.example"),
        }
        old_entry.objects.filter(pk=ids["reused"]).update(created_at=reused.created_at)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([after])
    try:
        got = {
            key: AuditEntry.objects.values_list("domain_id", "tenant__name", "actor_role").get(
                pk=pk
            )
            for key, pk in ids.items()
        }
    finally:
        # The later migrations too, as every other test expects.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes("audit"))
    assert got == {
        "kept": (kept.pk, "bob-corp", ActorRole.TENANT),
        "earlier": (None, None, ActorRole.OPERATOR),
        "gone": (None, None, ActorRole.SYSTEM),
        "cli": (kept.pk, "bob-corp", ActorRole.OPERATOR),
        "deleted_user": (kept.pk, "bob-corp", ActorRole.OPERATOR),
        "reused": (reused.pk, "charlie-corp", ActorRole.SYSTEM),
    }
