"""The `proxy` command: proxies to reload, and the database role they read with."""

import json
import os

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from domains.services import domain_create
from proxies.access import PROXY_RELATIONS
from proxies.models import Proxy, ReloadState
from subscribers.services import subscriber_create
from tests.test_cli import ON_POSTGRES, postgres_only, run, snapshot

# Roles live in the whole cluster, which parallel test runs share: one name per run.
ROLE = f"serweb_cli_test_proxy_{os.getpid()}"


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
        cursor.execute(f"CREATE ROLE {ROLE}_weak NOLOGIN")
        cursor.execute(f"SET LOCAL ROLE {ROLE}_weak")

    result = run("proxy", "grant", ROLE, "--password", "proxy-secret")

    assert result.code == 1
    assert result.err == "error: the database refused: permission denied to create role\n"
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [ROLE])
        assert cursor.fetchone() == (0,)


def drop_role(cursor, role: str) -> None:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    if cursor.fetchone():
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE {role}")


@pytest.fixture
def proxy_role(transactional_db):
    yield ROLE
    with connection.cursor() as cursor:
        drop_role(cursor, ROLE)


@pytest.fixture
def other_role(transactional_db):
    """A group role of the cluster, for memberships."""
    role = f"{ROLE}_group"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    yield role
    with connection.cursor() as cursor:
        drop_role(cursor, role)


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


def give_extra_powers(role: str, group: str) -> list[str]:
    """Everything an old role might hold besides the proxy's reads; what grant should say."""
    schema = settings.SERWEB_PROXY_SCHEMA
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (admin,) = cursor.fetchone()
        for statement in [
            f"CREATE ROLE {role} LOGIN INHERIT CREATEDB CREATEROLE REPLICATION BYPASSRLS",
            f"GRANT pg_read_all_data, {group} TO {role}",
            f"GRANT INSERT ON {schema}.domain TO {role}",
            f"GRANT SELECT ON {schema}.version TO {role} WITH GRANT OPTION",
            f"GRANT SELECT ON public.subscribers_subscriber TO {role}",
            f"GRANT SELECT (ha1) ON public.subscribers_subscriber TO {role}",
            f"GRANT USAGE ON SEQUENCE public.domains_domain_id_seq TO {role}",
            f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO {role}",
            f"GRANT CREATE ON SCHEMA public TO {role}",
            f"GRANT CREATE ON DATABASE {database} TO {role}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
        ]:
            cursor.execute(statement)
    return [
        "CREATEDB",
        "CREATEROLE",
        "REPLICATION",
        "BYPASSRLS",
        "member of pg_read_all_data",
        f"member of {group}",
        f"INSERT on view {schema}.domain",
        f"the grant option of SELECT on table {schema}.version",
        "SELECT on table public.subscribers_subscriber",
        "SELECT on table column public.subscribers_subscriber.ha1",
        "USAGE on sequence public.domains_domain_id_seq",
        "EXECUTE on function pg_catalog.pg_read_file(pg_catalog.text)",
        "CREATE on schema public",
        f"CREATE on database {database}",
        f"SELECT by default (for role {admin} in schema public on tables)",
    ]


def powers_of(role: str, group: str) -> dict[str, bool]:
    """What ``role`` can do, in PostgreSQL's own words (its privilege functions)."""
    schema = settings.SERWEB_PROXY_SCHEMA
    checks = {
        "attributes": "SELECT rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls "
        "FROM pg_roles WHERE rolname = %(role)s",
        "reads everything": "SELECT pg_has_role(%(role)s, 'pg_read_all_data', 'MEMBER')",
        "in the group": "SELECT pg_has_role(%(role)s, %(group)s, 'MEMBER')",
        "writes the proxy's domains": f"SELECT has_table_privilege(%(role)s, "
        f"'{schema}.domain', 'INSERT')",
        "grants the proxy's reads": f"SELECT has_table_privilege(%(role)s, '{schema}.version', "
        "'SELECT WITH GRANT OPTION')",
        "reads subscribers": "SELECT has_table_privilege(%(role)s, "
        "'public.subscribers_subscriber', 'SELECT')",
        "reads HA1": "SELECT has_column_privilege(%(role)s, 'public.subscribers_subscriber', "
        "'ha1', 'SELECT')",
        "uses a sequence": "SELECT has_sequence_privilege(%(role)s, "
        "'public.domains_domain_id_seq', 'USAGE')",
        "reads server files": "SELECT has_function_privilege(%(role)s, "
        "'pg_catalog.pg_read_file(text)', 'EXECUTE')",
        "creates in public": "SELECT has_schema_privilege(%(role)s, 'public', 'CREATE')",
        "creates schemas": "SELECT has_database_privilege(%(role)s, current_database(), 'CREATE')",
        "reads future tables": "SELECT count(*) > 0 FROM pg_default_acl, aclexplode(defaclacl) e "
        "WHERE e.grantee = %(role)s::regrole",
        "reads the proxy's domains": f"SELECT has_table_privilege(%(role)s, '{schema}.domain', "
        "'SELECT')",
    }
    found = {}
    with connection.cursor() as cursor:
        for power, query in checks.items():
            cursor.execute(query, {"role": role, "group": group})
            found[power] = cursor.fetchone()[0]
    return found


@postgres_only
def test_proxy_grant_refuses_a_role_that_can_do_more_and_names_each_power(proxy_role, other_role):
    expected = give_extra_powers(proxy_role, other_role)
    before = powers_of(proxy_role, other_role)
    assert all(before.values()), before

    result = run("proxy", "grant", proxy_role, "--password", "proxy-secret")

    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(
        f"error: role {proxy_role} can do more than read the proxy relations: "
    )
    for power in expected:
        assert power in result.err
    assert f"`proxy grant {proxy_role} --fix` revokes them" in result.err
    assert "proxy-secret" not in result.output
    assert powers_of(proxy_role, other_role) == before
    assert stored_password(proxy_role) is None


@postgres_only
def test_proxy_grant_fix_revokes_each_extra_power_and_says_so(proxy_role, other_role):
    expected = give_extra_powers(proxy_role, other_role)

    result = run("proxy", "grant", proxy_role, "--fix", "--password", "proxy-secret")

    assert result.code == 0, result.err
    revoked = [
        line.removeprefix(f"revoked from role {proxy_role}: ")
        for line in result.out.splitlines()
        if line.startswith("revoked from role ")
    ]
    assert sorted(revoked) == sorted(expected)
    assert f"role {proxy_role} may read" in result.out
    assert powers_of(proxy_role, other_role) == {
        **{power: False for power in powers_of(proxy_role, other_role)},
        "reads the proxy's domains": True,
    }
    with connect_as(proxy_role, "proxy-secret") as conn:
        assert conn.execute("SELECT count(*) FROM version").fetchone() == (7,)
        for statement in [
            "SELECT ha1 FROM public.subscribers_subscriber",
            "DELETE FROM version",
            "SELECT pg_read_file('/etc/hostname')",
            "CREATE TABLE public.mine (id int)",
            f"SET ROLE {other_role}",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with connection.cursor() as cursor:
        # The group itself is left alone: only the membership goes.
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [other_role])
        assert cursor.fetchone() == (1,)

    again = run("proxy", "grant", proxy_role)

    assert again.code == 0, again.err
    assert "revoked" not in again.out


@postgres_only
def test_proxy_grant_never_takes_away_what_the_role_owns(proxy_role):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {proxy_role} LOGIN CREATEDB")
        cursor.execute(f"CREATE TABLE public.{proxy_role}_notes (note text)")
        cursor.execute(f"ALTER TABLE public.{proxy_role}_notes OWNER TO {proxy_role}")

    for fix in [[], ["--fix"]]:
        result = run("proxy", "grant", proxy_role, *fix)

        assert result.code == 1
        assert f"CREATEDB; owns table public.{proxy_role}_notes." in result.err
        assert f"--fix cannot take away: owns table public.{proxy_role}_notes (" in result.err
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = %s", [proxy_role])
        assert cursor.fetchone() == (True,)
        cursor.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = %s", [f"{proxy_role}_notes"]
        )
        assert cursor.fetchone() == (proxy_role,)


@postgres_only
def test_proxy_grant_names_what_the_role_holds_in_another_database(proxy_role):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {proxy_role} LOGIN")
    db = connection.settings_dict
    elsewhere = psycopg.connect(
        host="127.0.0.1",
        port=db.get("PORT") or 5432,
        dbname="postgres",
        user=db["USER"],
        autocommit=True,
    )
    try:
        elsewhere.execute(f"GRANT USAGE ON SCHEMA public TO {proxy_role}")

        result = run("proxy", "grant", proxy_role, "--fix")
    finally:
        elsewhere.execute(f"REVOKE USAGE ON SCHEMA public FROM {proxy_role}")
        elsewhere.close()

    assert result.code == 1
    assert "holds privileges or objects in database postgres" in result.err


@postgres_only
def test_proxy_grant_refuses_the_login_serweb_runs_as(db):
    with connection.cursor() as cursor:
        # Rolled back with the test's transaction.
        cursor.execute(f"CREATE ROLE {ROLE}_admin NOLOGIN CREATEROLE")
        cursor.execute(f"SET LOCAL ROLE {ROLE}_admin")

    result = run("proxy", "grant", f"{ROLE}_admin", "--fix")

    assert result.code == 1
    assert result.err == (
        f"error: role {ROLE}_admin is the login serweb runs as; choose a role of its own\n"
    )


@postgres_only
def test_proxy_grant_lets_an_existing_role_log_in(proxy_role):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {proxy_role} NOLOGIN")

    result = run("proxy", "grant", proxy_role, "--password", "proxy-secret")

    assert result.code == 0, result.err
    assert f"role {proxy_role} could not log in; now it can" in result.out
    with connect_as(proxy_role, "proxy-secret") as conn:
        assert conn.execute("SELECT count(*) FROM version").fetchone() == (7,)


def test_a_change_says_which_proxies_do_not_serve_it_yet(db):
    assert run("proxy", "add", "kam1", "--udp", "127.0.0.1:9").code == 0

    added = run("domain", "add", "waiting.example")
    listed = run("domain", "list")

    assert added.code == 0
    assert "not live yet on proxy kam1" in added.err
    assert "not live yet" not in listed.err  # reads change nothing, so they say nothing
