"""The `proxy` command: proxies to reload, and the database role they read with."""

import json

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from domains.models import Proxy, ReloadState
from domains.proxy_access import PROXY_RELATIONS
from domains.services import domain_create
from subscribers.services import subscriber_create
from tests.test_cli import ON_POSTGRES, postgres_only, run, snapshot

ROLE = "serweb_cli_test_proxy"


@pytest.mark.parametrize(
    "option, address",
    [
        ("--fifo", "/run/kamailio/kamailio_rpc.fifo"),
        ("--udp", "198.51.100.7:8090"),
        ("--http", "https://proxy1.example.net:5071/RPC"),
    ],
)
def test_proxy_add_registers_a_proxy(db, option, address):
    result = run("proxy", "add", "proxy1", option, address)

    assert result.code == 0, result.err
    transport = option.removeprefix("--")
    assert result.out == f"added proxy proxy1 ({transport} {address})\n"
    proxy = Proxy.objects.get()
    assert (proxy.name, proxy.transport, proxy.address, proxy.enabled) == (
        "proxy1",
        transport,
        address,
        True,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["p2", "--fifo", "run/relative.fifo"], "a FIFO path must be absolute"),
        (["p2", "--udp", "198.51.100.7"], "expected HOST:PORT"),
        (["p2", "--udp", "198.51.100.7:70000"], "expected HOST:PORT"),
        (["p2", "--http", "ftp://x.example.net/"], "expected an http:// or https:// URL"),
        (["p2", "--fifo", ""], "the proxy's address is empty"),
        (["proxy1", "--fifo", "/run/other.fifo"], "a proxy named proxy1 exists already"),
        (["x" * 65, "--fifo", "/run/other.fifo"], "a proxy needs a name of 1 to 64 characters"),
    ],
)
def test_proxy_add_refuses_bad_input(db, args, message):
    run("proxy", "add", "proxy1", "--fifo", "/run/k.fifo")
    before = list(Proxy.objects.values_list("name", "transport", "address"))

    result = run("proxy", "add", *args)

    assert result.code == 1
    assert message in result.err
    assert list(Proxy.objects.values_list("name", "transport", "address")) == before


def test_proxy_add_needs_exactly_one_address(db):
    for args in [["p1"], ["p1", "--fifo", "/run/k.fifo", "--udp", "198.51.100.7:8090"]]:
        result = run("proxy", "add", *args)

        assert result.code == 1
        assert "--fifo" in result.err
    assert not Proxy.objects.exists()


def test_proxy_list_shows_what_each_proxy_has_applied(db):
    run("proxy", "add", "edge1", "--udp", "198.51.100.7:8090")
    run("proxy", "add", "core", "--fifo", "/run/kamailio/kamailio_rpc.fifo")
    domain_create(actor=None, name="example.org")
    domain_create(actor=None, name="example.net")
    desired = ReloadState.objects.get(pk=1).desired_generation
    failed_at = timezone.now()
    Proxy.objects.filter(name="core").update(applied_generation=desired)
    Proxy.objects.filter(name="edge1").update(
        applied_generation=desired - 1,
        last_error="timed out after 5 s",
        last_error_at=failed_at,
        enabled=False,
    )

    result = run("proxy", "list")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"core fifo /run/kamailio/kamailio_rpc.fifo enabled generation {desired}/{desired}",
        f"edge1 udp 198.51.100.7:8090 disabled generation {desired - 1}/{desired} "
        f"last error at {failed_at.isoformat()}: timed out after 5 s",
    ]
    rows = json.loads(run("proxy", "list", "--json").out)
    assert [
        (r["name"], r["enabled"], r["applied_generation"], r["desired_generation"]) for r in rows
    ] == [("core", True, desired, desired), ("edge1", False, desired - 1, desired)]
    assert rows[1]["last_error"] == "timed out after 5 s"
    assert rows[1]["last_error_at"] == failed_at.isoformat()
    assert rows[0]["address"] == "/run/kamailio/kamailio_rpc.fifo"


def test_proxy_list_of_none_is_empty(db):
    assert run("proxy", "list").out == ""
    assert json.loads(run("proxy", "list", "--json").out) == []


def test_proxy_rm(db):
    run("proxy", "add", "proxy1", "--fifo", "/run/k.fifo")

    result = run("proxy", "rm", "proxy1")

    assert result.code == 0, result.err
    assert result.out == "removed proxy proxy1\n"
    assert not Proxy.objects.exists()

    result = run("proxy", "rm", "proxy1")

    assert result.code == 1
    assert result.err == "error: no proxy named 'proxy1'\n"


# --- the proxy's database role --------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.skipif(ON_POSTGRES, reason="SQLite has no roles")
def test_proxy_grant_on_sqlite_says_it_needs_postgresql(db):
    result = run("proxy", "grant", ROLE, "--password", "proxy-secret")

    assert result.code == 1
    assert result.err == "error: a proxy role exists only on PostgreSQL\n"
    assert "proxy-secret" not in result.output


@postgres_only
@pytest.mark.parametrize("role", ["Robert'); DROP", "postgres", ""])
def test_proxy_grant_refuses_bad_or_dangerous_roles(db, role):
    before = snapshot()

    result = run("proxy", "grant", role)

    assert result.code == 1
    assert result.err.startswith("error: role ")
    assert snapshot() == before


@postgres_only
def test_proxy_grant_tells_when_the_database_refuses(db):
    with connection.cursor() as cursor:
        # Rolled back with the test's transaction, role and all.
        cursor.execute("CREATE ROLE serweb_cli_test_weak NOLOGIN")
        cursor.execute("SET LOCAL ROLE serweb_cli_test_weak")

    result = run("proxy", "grant", ROLE, "--password", "proxy-secret")

    assert result.code == 1
    assert result.err == "error: the database refused: permission denied to create role\n"
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [ROLE])
        assert cursor.fetchone() == (0,)


@pytest.fixture
def proxy_role(transactional_db):
    yield ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE])
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")


def connect_as(role: str, password: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host="127.0.0.1",
        port=db.get("PORT") or 5432,
        dbname=db["NAME"],
        user=role,
        password=password,
        autocommit=True,
    )


@postgres_only
def test_proxy_grant_creates_a_role_that_reads_the_proxy_relations_only(proxy_role):
    domain = domain_create(actor=None, name="example.org", aliases=["sip.example.org"])
    subscriber_create(actor=None, domain=domain, username="carol", password="carol-secret")

    result = run("proxy", "grant", proxy_role, "--password-stdin", stdin="proxy-secret\n")

    assert result.code == 0, result.err
    schema = settings.SERWEB_PROXY_SCHEMA
    database = connection.settings_dict["NAME"]
    port = connection.settings_dict.get("PORT")
    assert result.out.splitlines() == [
        f"role {proxy_role} may read {', '.join(PROXY_RELATIONS)} in schema {schema} "
        "(its search_path) and nothing else",
        'kamailio.cfg: modparam("domain|auth_db|uri_db|alias_db", "db_url", '
        f'"postgres://{proxy_role}:PASSWORD@{connection.settings_dict["HOST"] or "localhost"}'
        f'{":" + str(port) if port else ""}/{database}")',
    ]
    assert "proxy-secret" not in result.output
    assert stored_password(proxy_role) is not None

    with connect_as(proxy_role, "proxy-secret") as conn:
        # Kamailio names its tables without a schema: the role's search_path leads there.
        assert conn.execute("SELECT domain, did FROM domain ORDER BY domain").fetchall() == [
            ("example.org", "example.org"),
            ("sip.example.org", "example.org"),
        ]
        assert conn.execute("SELECT username, domain FROM subscriber").fetchall() == [
            ("carol", "example.org")
        ]
        for relation in PROXY_RELATIONS:
            conn.execute(f"SELECT count(*) FROM {relation}").fetchone()
        for statement in [
            "SELECT * FROM public.domains_domain",
            "SELECT * FROM public.subscribers_subscriber",
            "SELECT * FROM public.audit_auditentry",
            "INSERT INTO version (table_name, table_version) VALUES ('x', 1)",
            "UPDATE version SET table_version = 0",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def stored_password(role: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
        return cursor.fetchone()[0]


@postgres_only
def test_proxy_grant_again_without_a_password_keeps_the_password(proxy_role):
    assert run("proxy", "grant", proxy_role, "--password", "first-secret").code == 0
    first = stored_password(proxy_role)

    result = run("proxy", "grant", proxy_role)

    assert result.code == 0, result.err
    assert "its password was not changed" in result.out
    assert first is not None and stored_password(proxy_role) == first
    with connect_as(proxy_role, "first-secret") as conn:
        assert conn.execute("SELECT count(*) FROM version").fetchone() == (7,)

    assert run("proxy", "grant", proxy_role, "--password", "second-secret").code == 0
    assert stored_password(proxy_role) not in (None, first)


def test_a_change_says_which_proxies_do_not_serve_it_yet(db):
    assert run("proxy", "add", "kam1", "--udp", "127.0.0.1:9").code == 0

    added = run("domain", "add", "waiting.example")
    listed = run("domain", "list")

    assert added.code == 0
    assert "not live yet on proxy kam1" in added.err
    assert "not live yet" not in listed.err  # reads change nothing, so they say nothing
