"""Bulk import of domains and subscribers (domains.bulk, subscribers.bulk)."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from audit.models import AuditEntry
from domains import bulk as domain_bulk
from domains.bulk import (
    DomainColumnsImport,
    ImportRejected,
    RowError,
    domains_export_csv,
    import_domains,
    import_domains_csv,
)
from domains.models import Domain, DomainAttribute, DomainName
from domains.services import domain_create
from proxies.models import ReloadState
from proxies.receivers import _after_commit
from serweb.bulk import Mode, bad_rows, count_records, import_file, staging
from subscribers import bulk as subscriber_bulk
from subscribers.bulk import (
    SubscriberImport,
    import_subscribers,
    import_subscribers_csv,
    subscribers_export_csv,
)
from subscribers.models import Subscriber, UserAlias, ValidFrom
from subscribers.services import subscriber_create, subscriber_delete
from tests.test_cli import postgres_only

PASSWORD = "correct-horse-9"
HA1 = "0123456789abcdef0123456789abcdef"
HA1B = "fedcba9876543210fedcba9876543210"


def write_csv(tmp_path: Path, text: str, name: str = "import.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def proxy_rows(relation: str, columns: str) -> set[tuple]:
    """What Kamailio reads: the proxy-facing view, in its schema on PostgreSQL."""
    if connection.vendor == "postgresql":
        relation = f'"{settings.SERWEB_PROXY_SCHEMA}".{relation}'
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {relation}")
        return set(cursor.fetchall())


def generation() -> int:
    return ReloadState.objects.get(pk=1).desired_generation


def make_domain(did: str, *aliases: str) -> Domain:
    """A domain written directly, so no reload is pending before the import under test."""
    domain = Domain.objects.create(did=did)
    DomainName.objects.create(domain=domain, name=did, is_canonical=True)
    for alias in aliases:
        DomainName.objects.create(domain=domain, name=alias)
    return domain


def rejected(exc_info) -> list[tuple[int, str]]:
    return [(e.line, e.message) for e in exc_info.value.errors]


def assert_reported(errors: list[tuple[int, str]], line: int, fragment: str) -> None:
    assert any(got == line and fragment in message for got, message in errors), (
        f"no error on line {line} containing {fragment!r} in {errors}"
    )


# --- domains ------------------------------------------------------------------------------

GOOD_DOMAINS = """
name,aliases,did,enabled,attr.peering_policy,attr.max_contacts
alpha.test,sip.alpha.test 192.0.2.10,,yes,closed,0
Beta.TEST.,,,,,5
192.0.2.20,[2001:db8::1],gamma-id,no,open,
"""


def test_domain_file_creates_domains_names_and_attributes(alice, tmp_path):
    summary = import_domains_csv(actor=alice, path=write_csv(tmp_path, GOOD_DOMAINS))

    assert (summary.domains, summary.names, summary.attributes) == (3, 6, 4)
    alpha = Domain.objects.get(did="alpha.test")
    assert alpha.enabled and alpha.state == "active" and alpha.origin == "operator"
    assert [(n.name, n.kind, n.is_canonical) for n in alpha.names.all()] == [
        ("alpha.test", "hostname", True),
        ("192.0.2.10", "ipv4", False),
        ("sip.alpha.test", "hostname", False),
    ]
    assert Domain.objects.get(did="beta.test").canonical_name == "beta.test"
    gamma = Domain.objects.get(did="gamma-id")
    assert not gamma.enabled
    assert gamma.canonical_name == "192.0.2.20"
    # Stored like domain_create stores them: values equal to a default are flagged.
    assert {
        (a.domain.did, a.name, a.value, a.is_default) for a in DomainAttribute.objects.all()
    } == {
        ("alpha.test", "peering_policy", "closed", False),
        ("alpha.test", "max_contacts", "0", True),
        ("beta.test", "max_contacts", "5", False),
        ("gamma-id", "peering_policy", "open", True),
    }


def test_proxy_sees_served_names_and_only_non_default_attributes(alice, tmp_path):
    import_domains_csv(actor=alice, path=write_csv(tmp_path, GOOD_DOMAINS))

    assert proxy_rows("domain", "domain, did") == {
        ("alpha.test", "alpha.test"),
        ("sip.alpha.test", "alpha.test"),
        ("192.0.2.10", "alpha.test"),
        ("beta.test", "beta.test"),
    }
    assert proxy_rows("domain_attrs", "did, name, type, value") == {
        ("alpha.test", "peering_policy", 2, "closed"),
        ("beta.test", "max_contacts", 0, "5"),
    }


def test_domain_file_bumps_the_generation_once_and_schedules_one_reload(
    alice, tmp_path, django_capture_on_commit_callbacks
):
    before = generation()
    with django_capture_on_commit_callbacks() as callbacks:
        import_domains_csv(actor=alice, path=write_csv(tmp_path, GOOD_DOMAINS))

    assert generation() == before + 1
    assert callbacks.count(_after_commit) == 1


def test_domain_file_is_audited_once_with_counts_and_file_name(alice, tmp_path):
    import_domains_csv(actor=alice, path=write_csv(tmp_path, GOOD_DOMAINS, name="batch-7.csv"))

    entry = AuditEntry.objects.get(action="import.domains")
    assert entry.actor == alice
    assert entry.object_repr == "batch-7.csv"
    assert entry.after == {"source": "batch-7.csv", "domains": 3, "names": 6, "attributes": 4}
    assert AuditEntry.objects.count() == 1


BAD_DOMAINS = """
name,aliases,did,enabled,attr.max_contacts,attr.peering_policy
good.test,,,,,
bad..name.test,,,,,
192.0.2.1,,,,,
ok1.test,,Not A Did!,,,
ok2.test,,,maybe,,
ok3.test,,,,many,
ok4.test,,,,,sometimes
ok5.test,ok5.test,,,,
taken.test,,,,,
ok6.test,also-taken.test,,,,
ok7.test,,taken-id,,,
good.test,,other-id,,,
ok8.test,,ok1-id,,,
ok9.test,,ok1-id,,,
"multi
line.test",,,,,
,,,,,3
"""


def test_every_bad_domain_row_is_reported_and_nothing_written(alice, tmp_path):
    domain_create(actor=alice, name="taken.test", aliases=["also-taken.test"])
    domain_create(actor=alice, name="x.taken.test", did="taken-id")
    domains, generation_before = Domain.objects.count(), generation()

    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=write_csv(tmp_path, BAD_DOMAINS))

    errors = rejected(exc_info)
    assert_reported(errors, 3, "empty label")
    assert_reported(errors, 4, "an IP address cannot be a domain's canonical name")
    assert_reported(errors, 5, "domain id 'Not A Did!'")
    assert_reported(errors, 6, "enabled: 'maybe'")
    assert_reported(errors, 7, "max_contacts")
    assert_reported(errors, 8, "peering_policy: must be one of open, closed, listed")
    assert_reported(errors, 9, "ok5.test is given twice")
    assert_reported(errors, 10, "taken.test already belongs to domain taken.test")
    assert_reported(errors, 11, "also-taken.test already belongs to domain taken.test")
    assert_reported(errors, 12, "domain id taken-id is taken")
    assert_reported(errors, 13, "good.test is given twice: also on line 2")
    assert_reported(errors, 15, "domain id ok1-id is given twice: also on line 14")
    # A quoted field spanning lines is reported at the line where its record starts.
    assert_reported(errors, 16, "not a valid domain name")
    assert_reported(errors, 18, "the domain name is empty")
    assert {line for line, _message in errors} == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 18}
    assert Domain.objects.count() == domains
    assert generation() == generation_before
    assert not AuditEntry.objects.filter(action="import.domains").exists()


def test_every_problem_of_a_row_is_reported(alice):
    rows = [{"name": "bad..test", "did": "Bad Did!", "enabled": "maybe", "attr.max_contacts": "x"}]

    with pytest.raises(ImportRejected) as exc_info:
        import_domains(actor=alice, rows=rows)

    errors = rejected(exc_info)
    assert len(errors) == 4
    for fragment in ["empty label", "domain id 'Bad Did!'", "enabled: 'maybe'", "max_contacts"]:
        assert_reported(errors, 1, fragment)


def test_an_empty_file_is_refused(alice, tmp_path):
    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=write_csv(tmp_path, ""))

    assert rejected(exc_info) == [(1, "the file is empty; a header row is required")]


def test_rejection_messages_carry_line_numbers(alice, tmp_path):
    path = write_csv(tmp_path, "name\ngood.test\nbad..test\n")

    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=path)

    assert exc_info.value.errors == [RowError(3, "'bad..test': empty label in domain name")]
    assert exc_info.value.messages == ["line 3: 'bad..test': empty label in domain name"]


def test_unknown_columns_are_refused_by_name(alice, tmp_path):
    path = write_csv(tmp_path, "name,colour,attr.Bad-Name,did\nok.test,red,1,\n")

    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=path)

    errors = rejected(exc_info)
    assert_reported(errors, 1, "unknown column(s): colour")
    assert_reported(errors, 1, "bad attribute column(s): attr.bad-name")
    assert not Domain.objects.exists()


def test_an_attribute_column_of_a_reserved_name_is_refused(alice, tmp_path):
    path = write_csv(tmp_path, "name,attr.did\nok.test,victim.test\n")

    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=path)

    assert_reported(rejected(exc_info), 1, "bad attribute column(s): attr.did")
    with pytest.raises(ImportRejected) as exc_info:
        import_domains(actor=alice, rows=[{"name": "ok.test", "attr.did": "victim.test"}])
    assert_reported(rejected(exc_info), 1, "bad attribute column(s): attr.did")
    assert not Domain.objects.exists()


def test_a_header_without_the_name_column_is_refused(alice, tmp_path):
    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=write_csv(tmp_path, "aliases,did\nx.test,y\n"))

    assert_reported(rejected(exc_info), 1, "missing column(s): name")


def test_a_row_longer_than_the_header_is_refused(alice, tmp_path):
    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=write_csv(tmp_path, "name\na.test\nb.test,c.test\n"))

    assert rejected(exc_info) == [(3, "the row has more values than the header has columns")]


def test_a_file_that_is_not_utf8_is_refused(alice, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\na.test\nstra\xdfe.test\n".encode("latin-1"))

    with pytest.raises(ImportRejected) as exc_info:
        import_domains_csv(actor=alice, path=path)

    assert "not UTF-8" in exc_info.value.errors[0].message
    assert not Domain.objects.exists()


def test_unicode_names_are_stored_as_a_labels(alice, tmp_path):
    import_domains_csv(actor=alice, path=write_csv(tmp_path, "\ufeffname\nstraße.test\n"))

    assert Domain.objects.get().did == "xn--strae-oqa.test"


def test_rows_are_numbered_from_one(alice):
    rows = [{"name": "a.test"}, {"name": "a.test"}, {"name": "b.test", "colour": "red"}]

    with pytest.raises(ImportRejected) as exc_info:
        import_domains(actor=alice, rows=rows)

    errors = rejected(exc_info)
    assert_reported(errors, 2, "a.test is given twice: also on line 1")
    assert_reported(errors, 3, "unknown column(s): colour")


def test_rows_import_like_the_file(alice):
    summary = import_domains(
        actor=alice,
        rows=[{"name": "a.test", "aliases": "b.test", "attr.display_name": "A"}],
        source="api",
    )

    assert (summary.domains, summary.names, summary.attributes) == (1, 2, 1)
    assert AuditEntry.objects.get(action="import.domains").after["source"] == "api"


def test_a_header_only_file_imports_nothing_and_reloads_nothing(alice, tmp_path):
    before = generation()

    summary = import_domains_csv(actor=alice, path=write_csv(tmp_path, "name,aliases\n"))

    assert (summary.domains, summary.names, summary.attributes) == (0, 0, 0)
    assert generation() == before


def test_files_larger_than_a_chunk(alice, tmp_path, monkeypatch):
    monkeypatch.setattr(domain_bulk, "CHUNK_ROWS", 3)
    lines = ["name,aliases,attr.max_contacts"]
    lines += [f"d{i}.test,a{i}.test,{i + 1}" for i in range(10)]

    summary = import_domains_csv(actor=alice, path=write_csv(tmp_path, "\n".join(lines)))

    assert (summary.domains, summary.names, summary.attributes) == (10, 20, 10)
    assert DomainName.objects.get(name="a7.test").domain.did == "d7.test"
    assert DomainAttribute.objects.get(domain__did="d7.test").value == "8"


def test_two_imports_in_one_transaction(alice):
    import_domains(actor=alice, rows=[{"name": "a.test"}])
    import_domains(actor=alice, rows=[{"name": "b.test"}])

    assert set(Domain.objects.values_list("did", flat=True)) == {"a.test", "b.test"}
    # Ids came from the tables' own sequences: one-by-one creation goes on after them.
    domain_create(actor=alice, name="c.test")
    assert Domain.objects.count() == 3


# --- subscribers --------------------------------------------------------------------------


def _hashes_from_subscriber_create(
    actor, domain: Domain, username: str, password: str = PASSWORD
) -> tuple[str, str, str]:
    subscriber = subscriber_create(actor=actor, domain=domain, username=username, password=password)
    hashes = (subscriber.ha1, subscriber.ha1b, subscriber.ha1_realm)
    subscriber_delete(actor=actor, subscriber=subscriber)
    return hashes


def test_subscriber_hashes_equal_those_of_subscriber_create(alice, tmp_path):
    plain = domain_create(actor=alice, name="alpha.test", aliases=["sip.alpha.test"])
    realmed = domain_create(actor=alice, name="beta.test", attributes={"realm": "realm.beta.test"})
    expected = {
        ("alice", "alpha.test"): _hashes_from_subscriber_create(alice, plain, "alice"),
        ("bob", "beta.test"): _hashes_from_subscriber_create(alice, realmed, "bob"),
    }
    path = write_csv(
        tmp_path,
        f"""
username,domain,password
alice,sip.alpha.test,{PASSWORD}
bob,beta.test,{PASSWORD}
""",
    )

    import_subscribers_csv(actor=alice, path=path)

    got = {
        (s.username, s.domain.did): (s.ha1, s.ha1b, s.ha1_realm)
        for s in Subscriber.objects.select_related("domain")
    }
    assert got == expected
    assert got[("bob", "beta.test")][2] == "realm.beta.test"


GOOD_SUBSCRIBERS = f"""
username,domain,password,ha1,ha1b,email,valid_from,enabled
alice,sip.alpha.test,{PASSWORD},,,alice@alpha.test,,
bob,alpha.test,,{HA1},{HA1B},,bob 1001 robert,yes
carol,ALPHA.test.,{PASSWORD},,,,,no
"""


def test_subscriber_file_creates_subscribers_and_valid_froms(alice, tmp_path):
    make_domain("alpha.test", "sip.alpha.test")

    summary = import_subscribers_csv(actor=alice, path=write_csv(tmp_path, GOOD_SUBSCRIBERS))

    assert (summary.subscribers, summary.valid_froms) == (3, 5)
    alice_, bob, carol = Subscriber.objects.order_by("username")
    assert alice_.email == "alice@alpha.test" and alice_.password == ""
    assert (bob.ha1, bob.ha1b, bob.ha1_realm) == (HA1, HA1B, "alpha.test")
    assert not carol.enabled
    # The own name is the first valid From identity, then the ones listed.
    assert list(
        ValidFrom.objects.filter(subscriber=bob).order_by("id").values_list("from_user", flat=True)
    ) == ["bob", "1001", "robert"]
    assert proxy_rows("subscriber", "username, domain, ha1, ha1b") == {
        ("alice", "alpha.test", alice_.ha1, alice_.ha1b),
        ("bob", "alpha.test", HA1, HA1B),
    }
    assert proxy_rows("uri", "username, domain, uri_user") == {
        ("alice", "alpha.test", "alice"),
        ("bob", "alpha.test", "bob"),
        ("bob", "alpha.test", "1001"),
        ("bob", "alpha.test", "robert"),
    }


def test_subscriber_file_reloads_no_proxy_and_audits_no_secret(
    alice, tmp_path, django_capture_on_commit_callbacks
):
    make_domain("alpha.test", "sip.alpha.test")
    before = generation()

    with django_capture_on_commit_callbacks() as callbacks:
        import_subscribers_csv(actor=alice, path=write_csv(tmp_path, GOOD_SUBSCRIBERS, "s.csv"))

    # Kamailio reads subscribers per request: they are live at the commit.
    assert generation() == before
    assert callbacks.count(_after_commit) == 0
    entry = AuditEntry.objects.get()
    assert entry.action == "import.subscribers"
    assert entry.after == {"source": "s.csv", "subscribers": 3, "valid_froms": 5}
    recorded = json.dumps([entry.before, entry.after, entry.object_repr])
    hashes = Subscriber.objects.values_list("ha1", "ha1b")
    for secret in [PASSWORD, HA1, HA1B, *(h for pair in hashes for h in pair)]:
        assert secret not in recorded


def test_clear_passwords_are_kept_only_when_the_setting_asks(alice, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    make_domain("alpha.test")

    import_subscribers(
        actor=alice, rows=[{"username": "u", "domain": "alpha.test", "password": PASSWORD}]
    )

    assert Subscriber.objects.get().password == PASSWORD


BAD_SUBSCRIBERS = f"""
username,domain,password,ha1,ha1b,email,valid_from,enabled
ok,alpha.test,{PASSWORD},,,,,
x1,nowhere.test,{PASSWORD},,,,,
bad user,alpha.test,{PASSWORD},,,,,
x2,alpha.test,short,,,,,
x3,alpha.test,{PASSWORD},{HA1},{HA1B},,,
x4,alpha.test,,{HA1},,,,
x5,alpha.test,,{HA1.upper()},{HA1B},,,
x6,alpha.test,{PASSWORD},,,not-an-address,,
x7,alpha.test,{PASSWORD},,,,a;b,
x8,alpha.test,{PASSWORD},,,,two two,
x9,alpha.test,{PASSWORD},,,,,perhaps
ok,sip.alpha.test,{PASSWORD},,,,,
existing,alpha.test,{PASSWORD},,,,,
1001,alpha.test,{PASSWORD},,,,,
x10,,{PASSWORD},,,,,
x11,alpha.test,,,,,,
"""


def test_every_bad_subscriber_row_is_reported_and_nothing_written(alice, tmp_path):
    domain = make_domain("alpha.test", "sip.alpha.test")
    existing = Subscriber.objects.create(
        domain=domain, username="existing", ha1=HA1, ha1b=HA1B, ha1_realm="alpha.test"
    )
    UserAlias.objects.create(domain=domain, username="1001", subscriber=existing)
    before = generation()

    with pytest.raises(ImportRejected) as exc_info:
        import_subscribers_csv(actor=alice, path=write_csv(tmp_path, BAD_SUBSCRIBERS))

    errors = rejected(exc_info)
    assert_reported(errors, 3, "no domain named 'nowhere.test'")
    assert_reported(errors, 4, "user name 'bad user'")
    assert_reported(errors, 5, "at least 8 characters")
    assert_reported(errors, 6, "not both")
    assert_reported(errors, 7, "both ha1 and ha1b")
    assert_reported(errors, 8, "ha1 must be 32 lower-case hexadecimal digits")
    assert_reported(errors, 9, "'not-an-address' is not an e-mail address")
    assert_reported(errors, 10, "From user name 'a;b'")
    assert_reported(errors, 11, "valid_from: two is given twice")
    assert_reported(errors, 12, "enabled: 'perhaps'")
    assert_reported(errors, 13, "ok@alpha.test is given twice: also on line 2")
    assert_reported(errors, 14, "existing@alpha.test exists already")
    assert_reported(errors, 15, "1001@alpha.test is a user alias")
    assert_reported(errors, 16, "the domain is empty")
    assert_reported(errors, 17, "a password, or both ha1 and ha1b, are required")
    assert {line for line, _message in errors} == set(range(3, 18))
    assert list(Subscriber.objects.all()) == [existing]
    assert generation() == before
    assert not AuditEntry.objects.exists()


def test_subscriber_header_needs_a_password_or_hash_columns(alice, tmp_path):
    with pytest.raises(ImportRejected) as exc_info:
        import_subscribers_csv(actor=alice, path=write_csv(tmp_path, "username,domain,ha1\n"))

    assert_reported(rejected(exc_info), 1, "a password column, or ha1 and ha1b columns")


def test_subscriber_header_refuses_unknown_columns(alice, tmp_path):
    path = write_csv(tmp_path, "username,domain,password,realm\n")

    with pytest.raises(ImportRejected) as exc_info:
        import_subscribers_csv(actor=alice, path=path)

    assert_reported(rejected(exc_info), 1, "unknown column(s): realm")


def test_subscriber_files_larger_than_a_chunk(alice, monkeypatch):
    monkeypatch.setattr(subscriber_bulk, "CHUNK_ROWS", 4)
    for i in range(3):
        make_domain(f"d{i}.test")
    rows = [
        {"username": f"u{i}", "domain": f"d{i % 3}.test", "password": PASSWORD, "valid_from": "x"}
        for i in range(11)
    ]

    summary = import_subscribers(actor=alice, rows=rows)

    assert (summary.subscribers, summary.valid_froms) == (11, 22)
    u7 = Subscriber.objects.get(username="u7")
    assert u7.domain.did == "d1.test"
    assert sorted(u7.valid_froms.values_list("from_user", flat=True)) == ["u7", "x"]


def test_passwords_copy_must_escape_arrive_intact(alice, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    domain = make_domain("alpha.test")
    password = "a\\b'c\"d,e\\N"
    expected = _hashes_from_subscriber_create(alice, domain, "u", password)

    import_subscribers(
        actor=alice, rows=[{"username": "u", "domain": "alpha.test", "password": password}]
    )

    imported = Subscriber.objects.get()
    assert (imported.ha1, imported.ha1b, imported.ha1_realm) == expected
    assert imported.password == password


@postgres_only
def test_proxy_schema_shows_imported_rows(alice, tmp_path):
    import_domains_csv(actor=alice, path=write_csv(tmp_path, GOOD_DOMAINS))
    import_subscribers(
        actor=alice, rows=[{"username": "u", "domain": "sip.alpha.test", "password": PASSWORD}]
    )

    schema = settings.SERWEB_PROXY_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT domain, did FROM "{schema}".domain WHERE did = %s', ["alpha.test"])
        assert sorted(cursor.fetchall()) == [
            ("192.0.2.10", "alpha.test"),
            ("alpha.test", "alpha.test"),
            ("sip.alpha.test", "alpha.test"),
        ]
        cursor.execute(f'SELECT username, domain FROM "{schema}".subscriber')
        assert cursor.fetchall() == [("u", "alpha.test")]


# --- modes: the good rows written and the bad ones reported, or a preview -----------------


def test_skipping_bad_rows_writes_the_good_ones_and_reports_the_rest(
    alice, tmp_path, django_capture_on_commit_callbacks
):
    make_domain("taken.test", "also-taken.test")
    other = Domain.objects.create(did="taken-id")
    DomainName.objects.create(domain=other, name="x.taken.test", is_canonical=True)

    with django_capture_on_commit_callbacks() as callbacks:
        report = import_file(
            DomainColumnsImport,
            actor=alice,
            path=write_csv(tmp_path, BAD_DOMAINS),
            mode=Mode.SKIP_BAD_ROWS,
        )

    # Lines 2 and 14 are good; line 15 is refused for the did line 14 has too.
    assert report.refused_lines == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 18]
    assert_reported([(e.line, e.message) for e in report.errors], 13, "also on line 2")
    assert (report.summary.domains, report.summary.names) == (2, 2)
    assert Domain.objects.filter(did__in=["good.test", "ok1-id"]).count() == 2
    assert not DomainName.objects.filter(name__in=["ok1.test", "ok9.test", "ok5.test"]).exists()
    assert callbacks.count(_after_commit) == 1
    entry = AuditEntry.objects.get(action="import.domains")
    assert entry.after == {
        "source": "import.csv",
        "domains": 2,
        "names": 2,
        "attributes": 0,
        "rows_refused": 14,
    }


def test_a_preview_writes_nothing_and_tells_what_an_import_would_do(alice, tmp_path):
    domain_create(actor=alice, name="taken.test", aliases=["also-taken.test"])
    before = (Domain.objects.count(), generation(), AuditEntry.objects.count())
    path = write_csv(
        tmp_path, "name,aliases,did\nnew.test,sip.new.test,\ntaken.test,,\nb.test,,b-id\n"
    )

    report = import_file(DomainColumnsImport, actor=alice, path=path, mode=Mode.PREVIEW)

    assert report.refused_lines == [3]
    assert_reported([(e.line, e.message) for e in report.errors], 3, "belongs to domain taken")
    assert (report.summary.domains, report.summary.names) == (2, 3)
    assert report.sample == [
        {
            "line": 2,
            "name": "new.test",
            "aliases": ["sip.new.test"],
            "did": "new.test",
            "enabled": True,
        },
        {"line": 4, "name": "b.test", "aliases": [], "did": "b-id", "enabled": True},
    ]
    assert (Domain.objects.count(), generation(), AuditEntry.objects.count()) == before
    # The import the preview announced does what it said.
    done = import_file(DomainColumnsImport, actor=alice, path=path, mode=Mode.SKIP_BAD_ROWS)
    assert done.summary == report.summary and done.errors == report.errors


def test_a_subscriber_preview_and_import_skip_the_bad_rows(alice, tmp_path):
    make_domain("alpha.test", "sip.alpha.test")
    path = write_csv(
        tmp_path,
        f"username,domain,password\nann,alpha.test,{PASSWORD}\nben,nowhere.test,{PASSWORD}\n"
        f"ann,sip.alpha.test,{PASSWORD}\ncid,sip.alpha.test,short\ndan,alpha.test,{PASSWORD}\n",
    )

    preview = import_file(SubscriberImport, actor=alice, path=path, mode=Mode.PREVIEW)
    assert preview.refused_lines == [3, 4, 5]
    assert [(s["line"], s["username"], s["domain"]) for s in preview.sample] == [
        (2, "ann", "alpha.test"),
        (6, "dan", "alpha.test"),
    ]
    assert not Subscriber.objects.exists()

    report = import_file(SubscriberImport, actor=alice, path=path, mode=Mode.SKIP_BAD_ROWS)
    assert report.refused_lines == [3, 4, 5]
    assert (report.summary.subscribers, report.summary.valid_froms) == (2, 2)
    assert sorted(Subscriber.objects.values_list("username", flat=True)) == ["ann", "dan"]


def test_a_bad_file_is_refused_whole_in_every_mode(alice, tmp_path):
    for mode in Mode:
        with pytest.raises(ImportRejected) as exc_info:
            import_file(
                DomainColumnsImport,
                actor=alice,
                path=write_csv(tmp_path, "colour\nred\n"),
                mode=mode,
            )
        assert_reported(rejected(exc_info), 1, "missing column(s): name")
    assert not AuditEntry.objects.exists()


def test_rows_a_concurrent_writer_took_after_the_check_are_skipped(alice, tmp_path, monkeypatch):
    make_domain("taken.test")
    checks = []
    conflicts = domain_bulk.DomainImport.conflicts

    def misses_the_first_time(self):
        checks.append(1)
        # As if taken.test was committed by another writer right after the check.
        return [] if len(checks) == 1 else conflicts(self)

    monkeypatch.setattr(domain_bulk.DomainImport, "conflicts", misses_the_first_time)
    path = write_csv(tmp_path, "name\na.test\ntaken.test\nb.test\n")

    report = import_file(DomainColumnsImport, actor=alice, path=path, mode=Mode.SKIP_BAD_ROWS)

    assert report.refused_lines == [3]
    assert_reported([(e.line, e.message) for e in report.errors], 3, "belongs to domain taken")
    assert report.summary.domains == 2
    assert set(Domain.objects.values_list("did", flat=True)) == {"a.test", "b.test", "taken.test"}


def test_progress_is_told_after_every_chunk(alice, tmp_path, monkeypatch):
    monkeypatch.setattr(domain_bulk, "CHUNK_ROWS", 4)
    lines = ["name", *(f"d{i}.test" for i in range(10))]
    path = write_csv(tmp_path, "\n".join(lines))
    told: list[int] = []

    import_file(
        DomainColumnsImport, actor=alice, path=path, mode=Mode.SKIP_BAD_ROWS, progress=told.append
    )

    assert told == [4, 8, 10]
    assert count_records(path) == 10


@postgres_only
def test_a_value_the_database_cannot_store_is_refused_on_its_line(db):
    for value, reason in [("a\x00b", "NUL character"), ("a\udc80b", "not valid Unicode")]:
        with pytest.raises(ImportRejected) as exc_info:
            with transaction.atomic(), staging() as tables:
                tables.create("bulk_probe", "value text NOT NULL")
                tables.load("bulk_probe", "line, value", [(3, "ok"), (7, value), (9, "ok")])
        assert_reported(rejected(exc_info), 7, reason)
    with pytest.raises(ImportRejected) as exc_info:
        with transaction.atomic(), staging() as tables:
            tables.create("bulk_probe", "value integer NOT NULL")
            tables.load("bulk_probe", "line, value", [(3, 1), (11, 2**40)])
    assert_reported(rejected(exc_info), 11, "out of range for type integer")


# --- the bad rows handed back --------------------------------------------------------------


def test_bad_rows_keep_their_columns_gain_an_error_and_lose_their_secrets(alice, tmp_path):
    make_domain("alpha.test")
    path = write_csv(
        tmp_path,
        f"Username,Domain,Password,ha1,ha1b\nann,alpha.test,{PASSWORD},,\n"
        f"ben,nowhere.test,{PASSWORD},,\ncid,alpha.test,,{HA1},{HA1B}\n"
        f'"d,an",alpha.test,,{HA1},nothex,extra\n',
    )
    report = import_file(SubscriberImport, actor=alice, path=path, mode=Mode.PREVIEW)

    bad = bad_rows(path, report.errors, secret_columns=SubscriberImport.secret_columns)
    text = "".join(bad.csv())

    assert text.splitlines() == [
        "Username,Domain,Password,ha1,ha1b,error",
        "ben,nowhere.test,,,,no domain named 'nowhere.test'",
        '"d,an",alpha.test,,,,the row has more values than the header has columns,extra',
    ]
    for secret in (PASSWORD, HA1, HA1B):
        assert secret not in text


# --- export ---------------------------------------------------------------------------------


def test_an_exported_domain_list_imports_as_it_was(alice, tmp_path):
    import_domains_csv(actor=alice, path=write_csv(tmp_path, GOOD_DOMAINS))
    domain_attribute_set_dns = DomainAttribute.objects.get(domain__did="beta.test")
    DomainAttribute.objects.filter(pk=domain_attribute_set_dns.pk).update(source="dns")

    text = "".join(domains_export_csv(queryset=Domain.objects.all()))

    assert text.splitlines() == [
        "name,aliases,did,enabled,attr.max_contacts,attr.peering_policy",
        "alpha.test,192.0.2.10 sip.alpha.test,alpha.test,yes,0,closed",
        "beta.test,,beta.test,yes,,",
        "192.0.2.20,[2001:db8::1],gamma-id,no,,open",
    ]
    names = set(DomainName.objects.values_list("name", "domain__did"))
    Domain.objects.all().delete()
    summary = import_domains_csv(actor=alice, path=write_csv(tmp_path, text, "again.csv"))
    assert summary.domains == 3
    assert set(DomainName.objects.values_list("name", "domain__did")) == names


def test_an_export_takes_any_queryset_in_a_constant_number_of_queries(
    alice, django_assert_num_queries
):
    import_domains(
        actor=alice, rows=[{"name": f"d{i}.test", "aliases": f"s{i}.test"} for i in range(3)]
    )
    with django_assert_num_queries(4):
        few = list(domains_export_csv(queryset=Domain.objects.filter(did__startswith="d1")))
    assert few[1:] == ["d1.test,s1.test,d1.test,yes\r\n"]
    import_domains(actor=alice, rows=[{"name": f"e{i}.test"} for i in range(50)])
    with django_assert_num_queries(4):
        assert len(list(domains_export_csv(queryset=Domain.objects.all()))) == 54


def test_an_exported_subscriber_list_carries_no_secret(alice, django_assert_num_queries):
    make_domain("alpha.test")
    import_subscribers(
        actor=alice,
        rows=[
            {"username": "ann", "domain": "alpha.test", "password": PASSWORD, "valid_from": "100"},
            {"username": "ben", "domain": "alpha.test", "ha1": HA1, "ha1b": HA1B, "enabled": "no"},
        ],
    )

    with django_assert_num_queries(2):
        text = "".join(subscribers_export_csv(queryset=Subscriber.objects.all()))

    assert text.splitlines() == [
        "username,domain,email,valid_from,enabled",
        "ann,alpha.test,,100,yes",
        "ben,alpha.test,,,no",
    ]
    for secret in (PASSWORD, HA1, HA1B, *Subscriber.objects.values_list("ha1", flat=True)):
        assert secret not in text


def test_an_export_pages_through_more_than_a_chunk(alice, monkeypatch):
    monkeypatch.setattr(domain_bulk, "EXPORT_CHUNK", 3)
    monkeypatch.setattr(subscriber_bulk, "EXPORT_CHUNK", 3)
    import_domains(
        actor=alice, rows=[{"name": f"d{i}.test", "aliases": f"s{i}.test"} for i in range(7)]
    )
    domains = list(domains_export_csv(queryset=Domain.objects.exclude(did="d3.test")))
    assert [line.split(",")[0] for line in domains[1:]] == [
        f"d{i}.test" for i in (0, 1, 2, 4, 5, 6)
    ]
    import_subscribers(
        actor=alice,
        rows=[
            {"username": f"u{i}", "domain": f"d{i % 2}.test", "password": PASSWORD}
            for i in range(8)
        ],
    )
    subscribers = list(subscribers_export_csv(queryset=Subscriber.objects.all()))
    assert [line.split(",")[:2] for line in subscribers[1:]] == [
        *([f"u{i}", "d0.test"] for i in (0, 2, 4, 6)),
        *([f"u{i}", "d1.test"] for i in (1, 3, 5, 7)),
    ]
