"""`adopt kamailio DBURL`: what lands in serweb from a Kamailio database, what the report
says about the rest, and what is refused.

The source databases are real: Kamailio's schema files on the suite's PostgreSQL server
(on both passes: serweb's own database may be SQLite) and on MariaDB, filled by kamctl.
"""

import json
import os

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEntry
from domains.models import AttributeType, Domain, DomainName
from domains.services import domain_create
from portability.adoption import AdoptionReport, adoption_plan, kamailio_adopt
from portability.kamailio import kamailio_tables_read
from portability.records import record_to_json
from proxies.models import ReloadState
from subscribers import digest
from subscribers.models import Subscriber, UserAlias, ValidFrom
from tests.helpers import in_parallel, proxy_rows
from tests.kamailio_stock import (
    add_rows_kamailio_refuses_to_load,
    execute,
    fill_like_an_operator,
    insert,
    mysql_stock_database,
    postgres_stock_database,
)
from tests.test_cli import postgres_only, run, snapshot


@pytest.fixture(scope="module")
def stock_url(tmp_path_factory):
    """The operator's database of the end-to-end test, built once for the module."""
    with postgres_stock_database(f"serweb_adopt_unit_{os.getpid()}") as url:
        fill_like_an_operator(url, tmp_path_factory.mktemp("kamctl"))
        add_rows_kamailio_refuses_to_load(url)
        yield url


@pytest.fixture
def scratch_url(tmp_path):
    """A stock database of this test's own, to change as it likes."""
    with postgres_stock_database(f"serweb_adopt_scratch_{os.getpid()}") as url:
        yield url


@pytest.fixture
def delta(transactional_db):
    return domain_create(actor=None, name="delta.test")


def generation() -> int:
    state = ReloadState.objects.filter(pk=1).first()
    return state.desired_generation if state else 0


def test_a_dry_run_shows_the_report_and_writes_nothing(stock_url, delta):
    before = snapshot()

    result = run("adopt", "kamailio", stock_url, "--dry-run")

    assert result.code == 0, result.err
    assert "would adopt 3 domains (7 names, 4 attributes)" in result.out
    assert "not adopted: 8 rows" in result.out
    as_json = json.loads(run("adopt", "kamailio", stock_url, "--dry-run", "--json").out)
    assert (as_json["dry_run"], as_json["domains"], len(as_json["unmapped"])) == (True, 3, 8)
    assert as_json["unmapped"][0] == {
        "table": "domain",
        "id": 2,
        "row": "'delta.test'",
        "reason": "already in serweb (domain delta.test)",
    }
    assert snapshot() == before


def test_adoption_maps_every_row_it_can_and_keeps_the_hashes(stock_url, delta):
    before = generation()

    result = run("adopt", "kamailio", stock_url)

    assert result.code == 0, result.err
    assert result.out.startswith("Kamailio database ") and "adopted 3 domains" in result.out
    # Names grouped by did; a NULL did is the name; the canonical name is the did when it
    # is a name, else the shortest host name; IP literals keep their kind.
    names = sorted(
        DomainName.objects.exclude(domain=delta).values_list(
            "domain__did", "name", "kind", "is_canonical"
        )
    )
    assert names == [
        ("alpha.test", "alpha.test", "hostname", True),
        ("beta.test", "127.0.0.5", "ipv4", False),
        ("beta.test", "[2001:db8::5]", "ipv6", False),
        ("beta.test", "beta.test", "hostname", True),
        ("beta.test", "sip.beta.test", "hostname", False),
        ("corp-7", "gamma.test", "hostname", True),
        ("corp-7", "voip.gamma.test", "hostname", False),
    ]
    # Attributes with their Kamailio types, the unknown "tier" an integer still.
    assert proxy_rows("domain_attrs", "did, name, type, value") == [
        ("beta.test", "max_contacts", AttributeType.INTEGER, "3"),
        ("beta.test", "tier", AttributeType.INTEGER, "2"),
        ("corp-7", "display_name", AttributeType.STRING, "Gamma Corp"),
        ("corp-7", "realm", AttributeType.STRING, "gamma.test"),
    ]
    gus = Subscriber.objects.get(username="gus")
    assert (gus.domain.did, gus.ha1, gus.ha1_realm) == (
        "corp-7",
        digest.ha1("gus", "gamma.test", "gus-secret-1"),
        "gamma.test",
    )
    alice = Subscriber.objects.get(username="alice")
    assert alice.ha1b == digest.ha1b("alice", "alpha.test", "alpha.test", "alice-secret-1")
    # kamctl kept the clear password; serweb does not unless its setting says so.
    assert alice.password == ""
    # Exactly the uri rows: with the uri table on, a user's own name needs one too.
    assert sorted(ValidFrom.objects.values_list("subscriber__username", "from_user")) == [
        ("alice", "alice"),
        ("alice", "boss"),
        ("bob", "bob"),
        ("erin", "erin"),
        ("gus", "gus"),
    ]
    assert sorted(
        UserAlias.objects.values_list("domain__did", "username", "subscriber__username")
    ) == [("alpha.test", "1000", "bob"), ("corp-7", "2000", "gus")]
    entry = AuditEntry.objects.get(action="adopt.kamailio")
    assert entry.after["subscribers"] == 4 and entry.after["not_adopted"] == 8
    assert "ha1" not in str(entry.after)
    # One transaction: one generation bump, hence one reload.
    assert generation() == before + 1


@postgres_only
def test_two_adoptions_at_once_adopt_each_row_once(stock_url, transactional_db):
    results = in_parallel(2, lambda _i: kamailio_adopt(actor=None, url=stock_url))

    reports = [r for r in results if isinstance(r, AdoptionReport)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(reports) + len(refused) == 2, results
    # The loser either waited and found everything taken, or was refused by the keys.
    assert sorted(r.domains for r in reports) in ([0, 4], [4])
    assert sorted(Domain.objects.values_list("did", flat=True)) == [
        "alpha.test",
        "beta.test",
        "corp-7",
        "delta.test",
    ]
    assert Subscriber.objects.count() == 5


def test_clear_passwords_are_kept_only_when_the_settings_say_so(stock_url, db, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True

    result = run("adopt", "kamailio", stock_url)

    assert "clear passwords: kept 3" in result.out, result.out
    assert Subscriber.objects.get(username="alice").password == "alice-secret-1"
    assert Subscriber.objects.get(username="gus").password == ""


def test_running_it_again_adopts_nothing_and_says_why(stock_url, db):
    assert run("adopt", "kamailio", stock_url).code == 0
    before = snapshot()

    result = run("adopt", "kamailio", stock_url)

    assert "adopted 0 domains" in result.out
    assert "domain id 1 'alpha.test': already in serweb (domain alpha.test)" in result.out
    assert "subscriber id 1 alice@alpha.test: its domain alpha.test is not adopted" in result.out
    assert snapshot() == before


def test_rows_serweb_rules_refuse_are_reported_with_the_reason(scratch_url, db):
    insert(
        scratch_url,
        "domain",
        [
            {"domain": "one.test", "did": None},
            {"domain": "two.test", "did": ""},
            {"domain": "Three.test", "did": None},
            {"domain": "[2001:db8::9]", "did": None},
            {"domain": "not a name", "did": None},
        ],
    )
    insert(
        scratch_url,
        "domain_attrs",
        [
            {"did": "one.test", "name": "realm", "type": 0, "value": "5"},
            {"did": "one.test", "name": "tier", "type": 2, "value": "gold"},
            {"did": "one.test", "name": "tier", "type": 2, "value": "silver"},
            {"did": "gone.test", "name": "tier", "type": 2, "value": "x"},
        ],
    )
    insert(
        scratch_url,
        "subscriber",
        [
            {"username": "hank", "domain": "one.test", "password": "hank-secret-1"},
            {"username": "ivy", "domain": "one.test"},
            {"username": "jo", "domain": "one.test", "ha1": "not-hex"},
            {"username": "bad user", "domain": "one.test", "ha1": "ab" * 16},
            {"username": "kim", "domain": "one.test", "ha1": "ab" * 16},
        ],
    )
    insert(
        scratch_url,
        "dbaliases",
        [
            {"alias_username": "hank", "alias_domain": "one.test", "username": "kim"}
            | {"domain": "one.test"},
            {"alias_username": "7", "alias_domain": "one.test", "username": "kim"}
            | {"domain": "one.test"},
            {"alias_username": "7", "alias_domain": "one.test", "username": "hank"}
            | {"domain": "one.test"},
        ],
    )

    result = run("adopt", "kamailio", scratch_url)

    assert result.code == 0, result.err
    for line in [
        "domain id 2 'two.test' did '': empty did",
        "domain id 3 'Three.test': did 'Three.test' would become 'three.test'",
        "domain id 4 '[2001:db8::9]': did '[2001:db8::9]' cannot be a serweb domain id (an IPv6 "
        "literal needs an explicit did)",
        "domain id 5 'not a name': not a domain name",
        "domain_attrs id 1 did 'one.test' realm='5' type 0: realm is a string attribute",
        "domain_attrs id 3 did 'one.test' tier='silver' type 2: a second value for tier",
        "domain_attrs id 4 did 'gone.test' tier='x' type 2: no domain has did 'gone.test'",
        "subscriber id 2 ivy@one.test: no credentials",
        "subscriber id 3 jo@one.test: ha1 is not a hexadecimal digest",
        "subscriber id 4 bad user@one.test: user name 'bad user'",
        "dbaliases id 1 hank@one.test -> kim@one.test: hank@one.test is also a subscriber",
        "dbaliases id 3 7@one.test -> hank@one.test: 7@one.test leads elsewhere already (id 2",
        "1 subscriber had no HA1: computed from the clear password",
    ]:
        assert line in result.out, result.out
    hank = Subscriber.objects.get(username="hank")
    assert hank.ha1 == digest.ha1("hank", "one.test", "hank-secret-1")
    assert hank.ha1b == digest.ha1b("hank", "one.test", "one.test", "hank-secret-1")
    assert list(Domain.objects.values_list("did", flat=True)) == ["one.test"]


def test_unknown_table_versions_are_refused_and_nothing_is_written(scratch_url, db):
    insert(scratch_url, "domain", [{"domain": "one.test"}])
    execute(scratch_url, "UPDATE version SET table_version = 6 WHERE table_name = 'subscriber'")
    before = snapshot()

    result = run("adopt", "kamailio", scratch_url)

    assert result.code == 1
    assert "unknown table version(s): subscriber 6 (Kamailio 5.x: 7)" in result.err
    assert snapshot() == before


def test_tables_without_a_version_row_are_left_out_and_domain_is_required(scratch_url, db):
    insert(scratch_url, "domain", [{"domain": "one.test"}])
    execute(scratch_url, "DELETE FROM version WHERE table_name IN ('uri', 'dbaliases')")
    assert (
        "not there (no version row): uri, dbaliases"
        in run("adopt", "kamailio", scratch_url, "--dry-run").out
    )

    execute(scratch_url, "DELETE FROM version WHERE table_name = 'domain'")
    result = run("adopt", "kamailio", scratch_url)
    assert result.code == 1 and "no version row for domain" in result.err


@pytest.mark.parametrize(
    "url, message",
    [
        ("sqlite:///x.db", "expected a postgres://USER:PASSWORD@HOST/DB or mysql://"),
        (
            "postgres://nobody:secret-pw@127.0.0.1:1/kamailio",
            "cannot connect to postgres://nobody:***@127.0.0.1:1/kamailio",
        ),
    ],
)
def test_bad_urls_get_one_line_without_the_password(db, url, message):
    result = run("adopt", "kamailio", url)

    assert result.code == 1 and message in result.err
    assert "secret-pw" not in result.output


def test_a_database_that_is_not_kamailios_is_refused(db):
    from tests.kamailio_stock import postgres_server

    result = run("adopt", "kamailio", f"{postgres_server()}/postgres")

    assert result.code == 1 and "no Kamailio version table" in result.err


def test_mysql_gives_the_same_adoption_as_postgresql(stock_url, db, settings):
    pg = kamailio_tables_read(stock_url)
    with mysql_stock_database(f"serweb_adopt_{os.getpid()}") as mysql_url:
        # The same rows; MySQL's case-insensitive unique keys refuse the two that differ
        # from another only in case.
        for table, rows in pg.rows.items():
            columns = {
                "domain": ("id", "domain", "did"),
                "domain_attrs": ("id", "did", "name", "type", "value"),
                "subscriber": ("id", "username", "domain", "password", "ha1", "ha1b"),
                "uri": ("id", "username", "domain", "uri_user"),
                "dbaliases": ("id", "alias_username", "alias_domain", "username", "domain"),
            }[table]
            for row in rows:
                marks = ", ".join(["%s"] * len(columns))
                execute(
                    mysql_url,
                    f"INSERT IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    list(row),
                )
        my = kamailio_tables_read(mysql_url)

        result = run("adopt", "kamailio", mysql_url, "--dry-run")

    assert result.code == 0, result.err
    assert my.versions == pg.versions
    now = timezone.now()
    pg_document, pg_report = adoption_plan(pg, dry_run=True, now=now)
    my_document, my_report = adoption_plan(my, dry_run=True, now=now)
    assert record_to_json(my_document) == record_to_json(pg_document)
    assert {(u.table, u.id) for u in my_report.unmapped} == {
        (u.table, u.id) for u in pg_report.unmapped
    } - {("domain", 3), ("subscriber", 7)}


def test_the_mysql_driver_missing_is_a_clear_error(db, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pymysql(name, *args, **kwargs):
        if name == "pymysql":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pymysql)

    result = run("adopt", "kamailio", "mysql://root@127.0.0.1/kamailio")

    assert result.code == 1 and "pip install 'serweb[mysql]'" in result.err
