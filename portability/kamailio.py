"""Reading the stock tables of a Kamailio 5.x database (PostgreSQL, MySQL or MariaDB).

Read-only and in one snapshot. The ``version`` rows say which tables are there and in
which layout; a table whose version this code does not know is refused, as Kamailio
itself refuses to start on one. No ORM: the database is not serweb's.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError

# The tables adoption reads, their versions in Kamailio 5.x (5.0 to 5.8), and the columns.
TABLES: dict[str, tuple[int, tuple[str, ...]]] = {
    "domain": (2, ("id", "domain", "did")),
    "domain_attrs": (1, ("id", "did", "name", "type", "value")),
    "subscriber": (7, ("id", "username", "domain", "password", "ha1", "ha1b")),
    "uri": (1, ("id", "username", "domain", "uri_user")),
    "dbaliases": (1, ("id", "alias_username", "alias_domain", "username", "domain")),
}
REQUIRED = ("domain",)
MYSQL_EXTRA = "pip install 'serweb[mysql]'"


@dataclass
class KamailioTables:
    """The rows of each table that is there, in id order; ``versions`` as the database
    says them; ``absent`` the tables it has no version row for."""

    source: str
    versions: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    rows: dict[str, list[tuple]] = field(default_factory=dict)


def masked_url(url: str) -> str:
    """The URL without its password, fit for a report."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@contextmanager
def _postgres(url: str) -> Iterator[Any]:
    import psycopg

    try:
        connection = psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise ValidationError(f"cannot connect to {masked_url(url)}: {_first_line(exc)}") from None
    try:
        connection.read_only = True
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        yield connection.cursor(), psycopg.Error
    finally:
        connection.close()


@contextmanager
def _mysql(url: str) -> Iterator[Any]:
    try:
        import pymysql
    except ImportError:
        raise ValidationError(
            f"reading a MySQL or MariaDB database needs its driver: {MYSQL_EXTRA}"
        ) from None
    parts = urlsplit(url)
    try:
        connection = pymysql.connect(
            host=parts.hostname or "localhost",
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")),
            charset="utf8mb4",
            connect_timeout=10,
        )
    except pymysql.Error as exc:
        raise ValidationError(f"cannot connect to {masked_url(url)}: {_first_line(exc)}") from None
    try:
        cursor = connection.cursor()
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        yield cursor, pymysql.Error
    finally:
        connection.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _connect(url: str):
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("postgres", "postgresql"):
        return _postgres(url)
    if scheme == "mysql":
        return _mysql(url)
    raise ValidationError(
        f"{masked_url(url)}: expected a postgres://USER:PASSWORD@HOST/DB or "
        "mysql://USER:PASSWORD@HOST/DB URL, as in kamailio.cfg's db_url"
    )


def kamailio_tables_read(url: str) -> KamailioTables:
    """Every row of the stock tables the database has; refuses unknown versions."""
    tables = KamailioTables(source=masked_url(url))
    with _connect(url) as (cursor, errors):
        try:
            cursor.execute("SELECT table_name, table_version FROM version")
            found = {str(name): int(version) for name, version in cursor.fetchall()}
        except errors as exc:
            raise ValidationError(
                f"{tables.source}: no Kamailio version table ({_first_line(exc)})"
            ) from None
        _check_versions(tables, found)
        for table, (_version, columns) in TABLES.items():
            if table in tables.absent:
                continue
            try:
                cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
                tables.rows[table] = [tuple(row) for row in cursor.fetchall()]
            except errors as exc:
                raise ValidationError(
                    f"{tables.source}: cannot read table {table} ({_first_line(exc)})"
                ) from None
    return tables


def _check_versions(tables: KamailioTables, found: dict[str, int]) -> None:
    wrong = [
        f"{table} {found[table]} (Kamailio 5.x: {version})"
        for table, (version, _columns) in TABLES.items()
        if table in found and found[table] != version
    ]
    if wrong:
        raise ValidationError(
            f"{tables.source}: unknown table version(s): {', '.join(wrong)}; serweb adopts "
            "the tables of Kamailio 5.x, so upgrade the database with kamdbctl first"
        )
    missing = [table for table in REQUIRED if table not in found]
    if missing:
        raise ValidationError(
            f"{tables.source}: no version row for {', '.join(missing)}: not the database of a "
            "Kamailio with the domain module"
        )
    tables.versions = {table: found[table] for table in TABLES if table in found}
    tables.absent = [table for table in TABLES if table not in found]
