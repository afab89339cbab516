"""Kamailio databases built as an operator's would be: Kamailio's own schema files (Debian's
packages), rows written by kamctl where it has a command for them and by SQL where only
kamcli or Siremis would (explicit dids, domain_attrs, uri).

PostgreSQL databases live beside the test database on the same server; MySQL ones on the
MariaDB server at 127.0.0.1:3306 (root without a password, as on the project's machines).
Each is dropped afterwards.
"""

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SCHEMA_FILES = ["standard", "domain", "auth_db", "uri_db", "alias_db"]
POSTGRES_SCHEMA_DIR = Path("/usr/share/kamailio/postgres")
MYSQL_SCHEMA_DIR = Path("/usr/share/kamailio/mysql")
MYSQL_SERVER = os.environ.get("SERWEB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")


def postgres_server() -> str:
    """postgres://USER@HOST:PORT of the server the suite uses, on either pass."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        return f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    url = os.environ.get("SERWEB_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/serweb")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _schema_sql(directory: Path) -> list[str]:
    missing = [f for f in SCHEMA_FILES if not (directory / f"{f}-create.sql").exists()]
    if missing:
        pytest.fail(f"Kamailio's schema files {missing} are missing in {directory} (apt install)")
    return [(directory / f"{f}-create.sql").read_text() for f in SCHEMA_FILES]


@contextmanager
def postgres_stock_database(name: str) -> Iterator[str]:
    """A new PostgreSQL database with Kamailio's stock tables; yields its URL."""
    import psycopg

    server = postgres_server()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for text in _schema_sql(POSTGRES_SCHEMA_DIR):
                conn.execute(text)
        yield url
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql_connect(database: str | None = None):
    import pymysql

    parts = urlsplit(MYSQL_SERVER)
    try:
        return pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            database=database,
            autocommit=True,
        )
    except pymysql.Error as exc:
        pytest.fail(f"the MySQL tests need MariaDB at {MYSQL_SERVER}: {exc}")


@contextmanager
def mysql_stock_database(name: str) -> Iterator[str]:
    """A new MariaDB database with Kamailio's stock MySQL tables; yields its URL."""
    with _mysql_connect() as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        with _mysql_connect(name) as conn, conn.cursor() as cursor:
            for text in _schema_sql(MYSQL_SCHEMA_DIR):
                for statement in text.split(";\n"):
                    if statement.strip():
                        cursor.execute(statement)
        yield f"{MYSQL_SERVER}/{name}"
    finally:
        with _mysql_connect() as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def execute(url: str, sql: str, params: Sequence | None = None) -> None:
    """One statement against a stock database (either kind), committed."""
    if url.startswith("mysql"):
        with _mysql_connect(urlsplit(url).path.lstrip("/")) as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)


def insert(url: str, table: str, rows: Sequence[Mapping]) -> None:
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        execute(url, f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def kamctl(directory: Path, url: str, *args: str) -> str:
    """Run Debian's kamctl against the PostgreSQL database at ``url`` (its own kamctlrc in
    ``directory``, read there because KAMCTL_TEST is set)."""
    parts = urlsplit(url)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kamctlrc").write_text(
        "DBENGINE=PGSQL\n"
        f"DBHOST={parts.hostname}\nDBPORT={parts.port or 5432}\nDBNAME={parts.path.lstrip('/')}\n"
        f"DBRWUSER={parts.username}\nDBRWPW=unused\nDBROUSER={parts.username}\nDBROPW=unused\n"
        "STORE_PLAINTEXT_PW=1\nVERBOSE=0\n"
    )
    binary = "/usr/sbin/kamctl"
    if not os.access(binary, os.X_OK):
        pytest.fail("kamctl is not installed (apt install kamailio)")
    done = subprocess.run(
        [binary, *args],
        cwd=directory,
        env={**os.environ, "KAMCTL_TEST": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, f"kamctl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


# --- one operator's database ---------------------------------------------------------------

# (user, did, realm, password) of the subscribers kamcli would have written with hashes only.
HASHED_USERS = [
    ("erin", "beta.test", "beta.test", "erin-secret-1"),
    ("gus", "corp-7", "gamma.test", "gus-secret-1"),
]


def fill_like_an_operator(url: str, directory: Path) -> None:
    """The database of an office: names with NULL and explicit dids, a did that is none of
    its names, IP literals, typed attributes (a realm among them), subscribers with ha1 and
    ha1b (and clear passwords where kamctl keeps them), uri rows, aliases; and the rows
    serweb cannot take: a name differing only in case, a subscriber whose domain is not
    served, one whose domain differs only in case, a uri row without a subscriber, a name
    serweb already has (delta.test, created there by the test)."""
    from subscribers import digest

    for name in ("alpha.test", "delta.test"):
        kamctl(directory, url, "domain", "add", name)
    for address, password in [
        ("alice@alpha.test", "alice-secret-1"),
        ("bob@alpha.test", "bob-secret-1"),
        ("dave@delta.test", "dave-secret-1"),
    ]:
        kamctl(directory, url, "add", address, password)
    kamctl(directory, url, "alias_db", "add", "1000@alpha.test", "bob@alpha.test")
    # What kamctl has no command for: kamcli or Siremis would write these.
    insert(
        url,
        "domain",
        [
            {"domain": "Alpha.TEST", "did": "alpha.test"},
            *({"domain": n, "did": "beta.test"} for n in ("beta.test", "sip.beta.test")),
            *({"domain": n, "did": "beta.test"} for n in ("127.0.0.5", "[2001:db8::5]")),
            {"domain": "gamma.test", "did": "corp-7"},
            {"domain": "voip.gamma.test", "did": "corp-7"},
        ],
    )
    insert(
        url,
        "domain_attrs",
        [
            {"did": "beta.test", "name": "max_contacts", "type": 0, "value": "3"},
            {"did": "beta.test", "name": "tier", "type": 0, "value": "2"},
            {"did": "corp-7", "name": "realm", "type": 2, "value": "gamma.test"},
            {"did": "corp-7", "name": "display_name", "type": 2, "value": "Gamma Corp"},
        ],
    )
    insert(
        url,
        "subscriber",
        [
            *(
                {
                    "username": user,
                    "domain": did,
                    "ha1": digest.ha1(user, realm, password),
                    "ha1b": digest.ha1b(user, did, realm, password),
                }
                for user, did, realm, password in HASHED_USERS
            ),
            {"username": "carol", "domain": "nowhere.test", "ha1": digest.ha1("carol", "x", "y")},
            {"username": "alice", "domain": "ALPHA.test", "ha1": digest.ha1("alice", "a", "b")},
        ],
    )
    insert(
        url,
        "uri",
        [
            {"username": user, "domain": did, "uri_user": from_user}
            for user, did, from_user in [
                ("alice", "alpha.test", "alice"),
                ("alice", "alpha.test", "boss"),
                ("bob", "alpha.test", "bob"),
                ("erin", "beta.test", "erin"),
                ("gus", "corp-7", "gus"),
                ("zed", "alpha.test", "zed"),
            ]
        ],
    )
    insert(
        url,
        "dbaliases",
        [
            {
                "alias_username": "2000",
                "alias_domain": "corp-7",
                "username": "gus",
                "domain": "corp-7",
            }
        ],
    )


def add_rows_kamailio_refuses_to_load(url: str) -> None:
    """Attribute rows that fail Kamailio's whole domain reload, as written behind a
    running proxy's back: an unknown type, an integer that is none."""
    insert(
        url,
        "domain_attrs",
        [
            {"did": "beta.test", "name": "weird", "type": 1, "value": "x"},
            {"did": "alpha.test", "name": "max_contacts", "type": 0, "value": "many"},
        ],
    )
