"""Kamailio's stock schema and serweb's proxy-facing relations agree column by column.

The Debian package's own schema files are loaded into a scratch schema and compared with
what serweb provides, so a drift on either side fails the suite.
"""

import os
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from domains.models import DomainName, NameCheck, NameState
from domains.services import domain_create
from proxies.access import PROXY_RELATIONS, proxy_role_grant
from subscribers.services import subscriber_create

pytestmark = pytest.mark.postgres

KAMAILIO_SCHEMA_DIR = Path("/usr/share/kamailio/postgres")
SCHEMA_FILES = ["standard", "domain", "auth_db", "uri_db", "alias_db", "htable"]
SCRATCH = "kamailio_stock"
# serweb's relations whose stock table has another name (the htable variant's).
STOCK_NAME = {
    "domain_attrs_htable": "htable",
    "domain_attrs_none": "domain_attrs",
    "domain_names_htable": "htable",
}
# Columns deliberately wider than the stock ones: a key is "<did>:<name>" (64 + 1 + 32),
# a value up to 255 characters as in domain_attrs. htable's loader reads any length.
WIDER = {("domain_attrs_htable", "key_name"): 97, ("domain_attrs_htable", "key_value"): 255}


def _columns(cursor, schema: str, relation: str) -> list[tuple]:
    cursor.execute(
        """SELECT column_name, data_type, character_maximum_length
           FROM information_schema.columns
           WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
        [schema, relation],
    )
    return cursor.fetchall()


@pytest.fixture
def stock_schema(db):
    missing = [f for f in SCHEMA_FILES if not (KAMAILIO_SCHEMA_DIR / f"{f}-create.sql").exists()]
    assert not missing, f"Kamailio's schema files are missing (install kamailio): {missing}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCRATCH}")
        cursor.execute(f"SET LOCAL search_path = {SCRATCH}")
        for name in SCHEMA_FILES:
            cursor.execute((KAMAILIO_SCHEMA_DIR / f"{name}-create.sql").read_text())
        cursor.execute("SET LOCAL search_path = DEFAULT")
    return SCRATCH


@pytest.mark.parametrize("relation", PROXY_RELATIONS)
def test_columns_match_kamailio(stock_schema, relation):
    with connection.cursor() as cursor:
        stock = _columns(cursor, stock_schema, STOCK_NAME.get(relation, relation))
        ours = _columns(cursor, settings.SERWEB_PROXY_SCHEMA, relation)
    assert stock, f"Kamailio's files define no {relation}"
    expected = [(name, kind, WIDER.get((relation, name), length)) for name, kind, length in stock]
    assert ours == expected


def test_the_htable_relation_holds_what_domain_attrs_holds(db):
    domain_create(
        actor=None,
        name="attrs.example.com",
        attributes={"realm": "voip.example.com", "max_contacts": "5", "peering_policy": "open"},
    )
    schema = settings.SERWEB_PROXY_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT did, name, type, value FROM "{schema}".domain_attrs')
        attrs = sorted(cursor.fetchall())
        cursor.execute(
            f'SELECT key_name, key_type, value_type, key_value, expires FROM "{schema}".'
            "domain_attrs_htable"
        )
        htable = sorted(cursor.fetchall())
        cursor.execute(f'SELECT count(*) FROM "{schema}".domain_attrs_none')
        assert cursor.fetchone() == (0,)
    # The default peering policy is no row in either; integers are htable integers (1).
    assert attrs == [
        ("attrs.example.com", "max_contacts", 0, "5"),
        ("attrs.example.com", "realm", 2, "voip.example.com"),
    ]
    assert htable == [
        ("attrs.example.com:max_contacts", 0, 1, "5", 0),
        ("attrs.example.com:realm", 0, 0, "voip.example.com", 0),
    ]


def test_the_names_relation_holds_what_the_domain_relation_holds(db):
    served = domain_create(actor=None, name="names.example.com", aliases=["192.0.2.7"])
    domain_create(actor=None, name="off.example.com", enabled=False)
    schema = settings.SERWEB_PROXY_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT domain, did FROM "{schema}".domain')
        domain = sorted(cursor.fetchall())
        cursor.execute(
            f'SELECT key_name, key_type, value_type, key_value, expires FROM "{schema}".'
            "domain_names_htable"
        )
        names = sorted(cursor.fetchall())
    # Served names only, each a plain key (0) with its did as a string (0), no expiry.
    assert domain == [("192.0.2.7", served.did), ("names.example.com", served.did)]
    assert names == [(name, 0, 0, did, 0) for name, did in domain]


def test_the_names_relation_leaves_out_names_housekeeping_disabled_or_removed(db):
    domain = domain_create(
        actor=None,
        name="kept.example.com",
        aliases=["suspect.example.com", "disabled.example.com", "removed.example.com"],
    )
    for state in (NameState.SUSPECT, NameState.DISABLED, NameState.REMOVED):
        name = DomainName.objects.get(name=f"{state}.example.com")
        NameCheck.objects.create(name=name, state=state)
    schema = settings.SERWEB_PROXY_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT key_name, key_value FROM "{schema}".domain_names_htable')
        names = sorted(cursor.fetchall())
    # A suspect name is still served; the domain and its other names stay.
    assert names == [("kept.example.com", domain.did), ("suspect.example.com", domain.did)]


def test_version_rows_match_kamailio(stock_schema):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT table_name, table_version FROM {stock_schema}.version")
        stock = dict(cursor.fetchall())
        cursor.execute(
            f'SELECT table_name, table_version FROM "{settings.SERWEB_PROXY_SCHEMA}".version'
        )
        ours = dict(cursor.fetchall())
    # htable checks no version; the domain module checks its empty attribute relation's.
    del stock["htable"]
    assert ours == {**stock, "domain_attrs_none": stock["domain_attrs"]}
    assert ours["domain"] == 2 and ours["subscriber"] == 7


def _connect_as(role: str, password: str) -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        dbname=connection.settings_dict["NAME"],
        user=role,
        password=password,
        autocommit=True,
    )


@pytest.fixture
def proxy_role(transactional_db):
    # Roles are cluster-wide, and parallel test runs share the cluster.
    role = f"serweb_test_proxy_{os.getpid()}"
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE IF EXISTS {role}")


def test_the_proxy_role_reads_the_relations_and_nothing_else(proxy_role):
    domain = domain_create(actor=None, name="example.com", aliases=["sip.example.com"])
    subscriber_create(actor=None, domain=domain, username="carol", password="carol-secret")
    grant = proxy_role_grant(role=proxy_role, password="proxy-pw")
    assert (grant.schema, grant.created, grant.revoked) == (settings.SERWEB_PROXY_SCHEMA, True, ())

    with _connect_as(proxy_role, "proxy-pw") as conn:
        # Kamailio names its tables without a schema: the search_path must lead there.
        rows = conn.execute("SELECT domain, did FROM domain ORDER BY domain").fetchall()
        assert rows == [("example.com", "example.com"), ("sip.example.com", "example.com")]
        assert conn.execute("SELECT username FROM subscriber").fetchall() == [("carol",)]
        for relation in PROXY_RELATIONS:
            conn.execute(f"SELECT * FROM {relation}").fetchall()
        for statement in [
            "SELECT * FROM public.domains_domain",
            "SELECT * FROM public.subscribers_subscriber",
            "INSERT INTO version (table_name, table_version) VALUES ('x', 1)",
            "DELETE FROM version",
            "CREATE TABLE mine (id int)",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_grant_is_idempotent_and_refuses_bad_names(proxy_role):
    from django.core.exceptions import ValidationError

    proxy_role_grant(role=proxy_role, password="one")
    proxy_role_grant(role=proxy_role, password="two")
    with _connect_as(proxy_role, "two") as conn:
        assert conn.execute("SELECT count(*) FROM version").fetchone()[0] == 7
    with connection.cursor() as cursor:
        # This machine's PostgreSQL trusts loopback, so check the password was stored.
        cursor.execute(
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", [proxy_role]
        )
        assert cursor.fetchone() == (True,)
    for bad in ["", "Robert'); DROP", "postgres"]:
        with pytest.raises(ValidationError):
            proxy_role_grant(role=bad)
