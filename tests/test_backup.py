"""`export backup FILE` and `import backup FILE`: everything out, everything back, the same
bytes again; secrets kept to the file's owner; bad files and non-empty databases refused.
"""

import json
import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEntry
from domains.bulk import import_domains
from domains.dns.claims import domain_claim_start
from domains.models import (
    AttributeSource,
    Domain,
    DomainCheck,
    DomainClaim,
    NameCheck,
    NameState,
    Tenant,
)
from domains.services import domain_attribute_set, domain_create, domain_disable, tenant_create
from portability.backup import backup_export, backup_restore
from proxies.models import Proxy, ReloadState
from proxies.services import proxy_create
from subscribers.bulk import import_subscribers
from subscribers.models import Subscriber
from subscribers.services import (
    subscriber_create,
    subscriber_update,
    user_alias_add,
    valid_from_add,
)
from tests.helpers import in_parallel, proxy_rows
from tests.test_cli import postgres_only, run, snapshot

PROXY_VIEWS = {
    "domain": "domain, did",
    "domain_attrs": "did, name, type, value",
    "subscriber": "username, domain, ha1, ha1b",
    "uri": "username, domain, uri_user",
    "dbaliases": "alias_username, alias_domain, username, domain",
}


def fill(settings) -> None:
    """Provisioning data of every kind, with the values that are easy to lose."""
    tenant = tenant_create(
        actor=None, name="Acme", owner_username="acme-owner", password="owner-pass-123"
    )
    get_user_model().objects.filter(pk=tenant.owner.pk).update(last_login=timezone.now())
    shop = domain_create(
        actor=None,
        name="shop.example.com",
        aliases=["sip.shop.example.com", "192.0.2.7", "[2001:db8::7]", "bücher.example.com"],
        attributes={"max_contacts": "4", "peering_policy": "open", "tier": "gold"},
        tenant=tenant,
        origin="tenant",
    )
    domain_attribute_set(
        actor=None, domain=shop, name="display_name", value="Shop", source=AttributeSource.DNS
    )
    DomainCheck.objects.create(
        domain=shop,
        managed=False,
        verdict="ours",
        outcome="positive",
        reason="SRV points at us",
        evidence={"srv": [{"target": "sip.example.net", "port": 5060}], "b": 1, "a": [2, 1]},
        checked_at=timezone.now(),
        negatives=2,
        first_negative_at=timezone.now() - timedelta(days=1),
    )
    # An alias housekeeping disabled, and one an operator exempted.
    NameCheck.objects.create(
        name=shop.names.get(name="sip.shop.example.com"),
        state=NameState.DISABLED,
        state_changed_at=timezone.now() - timedelta(days=2),
        verdict="absent",
        outcome="negative",
        reason="the domain does not exist (NXDOMAIN)",
        evidence={"verdict": "absent", "authority": {"confirmed": True}},
        checked_at=timezone.now(),
        negatives=4,
        first_negative_at=timezone.now() - timedelta(days=5),
        last_negative_at=timezone.now(),
    )
    NameCheck.objects.create(name=shop.names.get(name="xn--bcher-kva.example.com"), exempt=True)
    # An IP literal no longer among the proxy addresses.
    NameCheck.objects.create(
        name=shop.names.get(name="192.0.2.7"),
        state=NameState.DISABLED,
        verdict="foreign",
        outcome="negative",
        reason="192.0.2.7 is not one of the proxy addresses",
        checked_at=timezone.now(),
    )
    corp = domain_create(
        actor=None, name="corp.example.org", did="corp_1", attributes={"realm": "corp.example.org"}
    )
    domain_disable(actor=None, domain=domain_create(actor=None, name="old.example.org"))
    carol = subscriber_create(
        actor=None, domain=shop, username="carol", password="carol-secret", email="c@shop.test"
    )
    valid_from_add(actor=None, subscriber=carol, from_user="+4930123")
    user_alias_add(actor=None, domain=shop, username="4930123", subscriber=carol)
    user_alias_add(actor=None, domain=corp, username="carol.shop", subscriber=carol)
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    dave = subscriber_create(actor=None, domain=corp, username="Dave", password="dave-secret")
    settings.SERWEB_STORE_CLEAR_PASSWORDS = False
    subscriber_update(actor=None, subscriber=dave, enabled=False)
    claim = domain_claim_start(actor=None, tenant=tenant, name="voice.acme.example.net")
    DomainClaim.objects.filter(pk=claim.pk).update(
        domain=shop, verified_at=timezone.now(), result="token found"
    )
    domain_claim_start(actor=None, tenant=tenant, name="later.acme.example.net")
    proxy_create(
        actor=None, name="edge", transport="udp", address="127.0.0.1:8090", sip_address="[::1]:5060"
    )
    proxy_create(actor=None, name="core", transport="fifo", address="/run/kamailio/k.fifo")
    # Switched off, so no reload is tried either (and the switch is data to keep).
    Proxy.objects.update(enabled=False)


def empty_the_database() -> None:
    Domain.objects.all().delete()
    owners = list(Tenant.objects.values_list("owner_id", flat=True))
    Tenant.objects.all().delete()
    get_user_model().objects.filter(pk__in=owners).delete()
    Proxy.objects.all().delete()


def proxy_view() -> dict:
    return {name: proxy_rows(name, columns) for name, columns in PROXY_VIEWS.items()}


def test_export_import_export_gives_the_same_bytes_and_the_same_proxy_view(db, tmp_path, settings):
    fill(settings)
    served = proxy_view()
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    exported = run("export", "backup", str(first))
    empty_the_database()
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    restored = run("import", "backup", str(first))
    run("export", "backup", str(second))

    assert exported.code == 0 and restored.code == 0, exported.output + restored.output
    assert exported.out == (f"wrote 1 tenant, 3 domains, 2 subscribers and 2 proxies to {first}\n")
    assert restored.out.startswith("restored 1 tenant (2 claims), 3 domains (7 names, ")
    assert first.read_bytes() == second.read_bytes()
    assert proxy_view() == served
    # What the owner logs in with, the kept clear password, the operator's switches.
    assert authenticate(username="acme-owner", password="owner-pass-123") is not None
    assert Subscriber.objects.get(username="Dave").password == "dave-secret"
    assert DomainCheck.objects.get(domain__did="shop.example.com").managed is False
    # The names' lifecycle goes on where it was: the disabled alias stays unserved.
    assert set(NameCheck.objects.values_list("name__name", "state", "exempt", "negatives")) == {
        ("sip.shop.example.com", "disabled", False, 4),
        ("xn--bcher-kva.example.com", "active", True, 0),
        ("192.0.2.7", "disabled", False, 0),
    }
    assert ("sip.shop.example.com", "shop.example.com") not in proxy_view()["domain"]
    assert ("192.0.2.7", "shop.example.com") not in proxy_view()["domain"]
    document = json.loads(first.read_text())
    assert (document["format"], document["version"]) == ("serweb-backup", 2)
    assert [d["did"] for d in document["domains"]] == [
        "corp_1",
        "old.example.org",
        "shop.example.com",
    ]


def test_the_backup_is_mode_0600_and_the_command_says_it_holds_secrets(db, tmp_path, settings):
    os.umask(0o022)
    fill(settings)
    path = tmp_path / "backup.json"

    result = run("export", "backup", str(path))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "mode 0600" in result.err and "password hashes" in result.err
    assert "keep it secret" in result.err
    assert Subscriber.objects.get(username="carol").ha1 in path.read_text()
    assert AuditEntry.objects.filter(action="backup.export").count() == 1
    assert "ha1" not in str(AuditEntry.objects.get(action="backup.export").after)


def test_an_existing_file_is_kept_unless_replaced(db, tmp_path):
    path = tmp_path / "backup.json"
    path.write_text("old")
    path.chmod(0o644)

    refused = run("export", "backup", str(path))
    replaced = run("export", "backup", str(path), "--replace")

    assert refused.code == 1 and "exists already" in refused.err
    assert replaced.code == 0 and path.read_text().startswith('{"format": "serweb-backup"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["backup.json"]


def test_a_restore_is_one_transaction_one_audit_entry_and_one_generation(
    transactional_db, tmp_path, settings
):
    fill(settings)
    path = tmp_path / "backup.json"
    backup_export(actor=None, path=path)
    empty_the_database()
    entries = AuditEntry.objects.count()
    generation = ReloadState.objects.get(pk=1).desired_generation

    summary = backup_restore(actor=None, path=path)

    assert AuditEntry.objects.count() == entries + 1
    assert AuditEntry.objects.get(action="backup.restore").after["subscribers"] == 2
    assert ReloadState.objects.get(pk=1).desired_generation == generation + 1
    # The clear password kept in the backup is left out: the setting is off here.
    assert summary.passwords_dropped == 1
    assert Subscriber.objects.get(username="Dave").password == ""


def test_a_database_with_provisioning_data_is_refused(db, tmp_path, settings):
    fill(settings)
    path = tmp_path / "backup.json"
    backup_export(actor=None, path=path)
    before = snapshot()

    result = run("import", "backup", str(path))

    assert result.code == 1
    assert "a backup restores into a database without provisioning data" in result.err
    assert "3 domain(s)" in result.err
    assert snapshot() == before


@postgres_only
def test_two_restores_at_once_leave_one_copy(transactional_db, tmp_path, settings):
    fill(settings)
    path = tmp_path / "backup.json"
    backup_export(actor=None, path=path)
    empty_the_database()

    results = in_parallel(2, lambda _i: backup_restore(actor=None, path=path))

    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 1, results
    assert Domain.objects.count() == 3 and Tenant.objects.count() == 1


def write_document(tmp_path: Path, document) -> str:
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


@pytest.fixture
def exported(db, tmp_path, settings) -> dict:
    fill(settings)
    path = tmp_path / "backup.json"
    backup_export(actor=None, path=path)
    empty_the_database()
    return json.loads(path.read_text())


def test_every_problem_in_an_edited_backup_is_named_and_nothing_is_written(exported, tmp_path):
    shop = exported["domains"][2]
    shop["names"][-1]["name"] = "Sip.Shop.Example.com"
    shop["names"].append(dict(exported["domains"][0]["names"][0]))
    shop["tenant"] = "Nobody"
    [contacts] = [i for i, a in enumerate(shop["attributes"]) if a["name"] == "max_contacts"]
    shop["attributes"][contacts]["value"] = "lots"
    exported["subscribers"][0]["ha1"] = "secret"
    exported["subscribers"][1]["aliases"].append(
        {"domain": "corp_1", "username": "Dave", "created_at": "2026-01-01T00:00:00+00:00"}
    )
    exported["proxies"][0]["transport"] = "carrier-pigeon"
    before = snapshot()

    result = run("import", "backup", write_document(tmp_path, exported))

    assert result.code == 1 and "nothing restored" in result.err
    for problem in [
        "domains[2].names[4].name: 'Sip.Shop.Example.com' is not a normalised name",
        "domains[2].names[5]: corp.example.org is also domains[0].names[0]",
        "domains[2].tenant: no tenant named Nobody in the backup",
        f"domains[2].attributes[{contacts}]: max_contacts: 'lots' is not an integer",
        "subscribers[0].ha1: not a hexadecimal digest",
        "cannot shadow a subscriber",
        "proxies[0].transport: 'carrier-pigeon' is not a transport",
    ]:
        assert problem in result.err, result.err
    assert snapshot() == before


def _names_of(document: dict, did: str) -> dict[str, dict]:
    [domain] = [d for d in document["domains"] if d["did"] == did]
    return {name["name"]: name for name in domain["names"]}


def test_a_names_dns_lifecycle_is_checked_on_the_way_in(exported, tmp_path):
    names = _names_of(exported, "shop.example.com")
    names["sip.shop.example.com"]["dns"]["state"] = "pending"
    names["192.0.2.7"]["dns"] = dict(names["sip.shop.example.com"]["dns"], state="suspect")

    result = run("import", "backup", write_document(tmp_path, exported))

    assert result.code == 1, result.output
    assert ".dns.state: 'pending' is not a name's state" in result.err
    assert ".dns.state: an IP literal is only active or disabled" in result.err
    assert not Domain.objects.exists()


def test_a_version_1_backup_restores_with_every_name_unchecked(exported, tmp_path):
    for domain in exported["domains"]:
        for name in domain["names"]:
            del name["dns"]
    exported["version"] = 1

    result = run("import", "backup", write_document(tmp_path, exported))

    assert result.code == 0, result.output
    assert Domain.objects.count() == 3
    assert not NameCheck.objects.exists()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: "{not json", "line 1 column 2: not JSON"),
        (lambda d: {**d, "format": "other"}, 'not a serweb backup (no "format": "serweb-backup")'),
        (lambda d: {**d, "version": 3}, "backup format version 3; this serweb reads 1 and 2"),
        (lambda d: {**d, "version": "2"}, "backup format version '2'; this serweb reads 1 and 2"),
        (lambda d: {**d, "extra": []}, "unknown key 'extra'"),
        (
            lambda d: {**d, "proxies": [{**d["proxies"][0], "enabled": "yes"}]},
            "proxies[0].enabled: expected true or false",
        ),
        (
            lambda d: {**d, "proxies": [{**d["proxies"][0], "created_at": "yesterday"}]},
            "proxies[0].created_at: 'yesterday' is not an ISO 8601 timestamp",
        ),
        (
            lambda d: {**d, "domains": [{"did": "x"}]},
            "domains[0]: missing key(s): state, enabled",
        ),
    ],
)
def test_a_file_that_is_not_a_backup_is_refused_with_where_and_why(
    exported, tmp_path, edit, message
):
    result = run("import", "backup", write_document(tmp_path, edit(exported)))

    assert result.code == 1 and message in result.err, result.err
    assert not Domain.objects.exists()


def test_a_missing_file_is_one_line(db, tmp_path):
    result = run("import", "backup", str(tmp_path / "none.json"))

    assert result.code == 1 and "cannot read" in result.err and "Traceback" not in result.err


def test_the_round_trip_at_size_is_byte_identical_and_timed(db, tmp_path):
    domains, subscribers = 1000, 10_000
    import_domains(
        actor=None,
        rows=(
            {"name": f"d{i}.size.test", "aliases": f"sip.d{i}.size.test", "attr.tier": "gold"}
            for i in range(domains)
        ),
    )
    import_subscribers(
        actor=None,
        rows=(
            {"username": f"u{i}", "domain": f"d{i % domains}.size.test", "password": "pw-12345678"}
            for i in range(subscribers)
        ),
    )
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    started = time.monotonic()
    backup_export(actor=None, path=first)
    exported = time.monotonic()
    empty_the_database()
    emptied = time.monotonic()
    backup_restore(actor=None, path=first)
    restored = time.monotonic()
    backup_export(actor=None, path=second)

    print(
        f"{domains} domains, {subscribers} subscribers: export {exported - started:.2f} s, "
        f"restore {restored - emptied:.2f} s, {first.stat().st_size / 1e6:.1f} MB"
    )
    assert first.read_bytes() == second.read_bytes()
    assert Subscriber.objects.count() == subscribers
