"""Bulk provisioning of domains: what ``import domains FILE.csv`` and bulk creation use.

A file is all or nothing. Every row is checked with the rules of the one-by-one services;
the rows are streamed into temporary staging tables (COPY on PostgreSQL) that carry each
row's line number, conflicts within the file and with the database are found with
set-based SQL, and only then are the rows written with INSERT ... SELECT. Every bad row is
reported with its line number. A whole file costs one transaction, one audit entry and one
``domains_changed`` signal, hence one generation bump and one reload.
"""

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from audit.services import audit_record
from domains.attributes import (
    RESERVED_NAMES,
    is_default_value,
    validate_attribute,
    validate_attribute_name,
)
from domains.models import AttributeSource, Domain, DomainOrigin, DomainState
from domains.names import HostName
from domains.services import domain_did_for, domain_hosts_clean
from domains.signals import domains_changed
from serweb.db import lost_race

Actor = AbstractBaseUser | None
NumberedRows = Iterable[tuple[int, Mapping[str, Any]]]

# Rows validated and loaded per round trip: large enough to amortise the round trip,
# small enough to keep memory flat whatever the size of the file.
CHUNK_ROWS = 5000

_TRUE = {"yes", "true", "1"}
_FALSE = {"no", "false", "0"}
# The key a CSV row gets for values beyond the header's columns.
EXTRA_VALUES = "(values beyond the header)"


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


class ImportRejected(ValidationError):
    """Nothing was written: ``errors`` lists every problem with its line number."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=attrgetter("line"))
        super().__init__(f"{len(self.errors)} problem(s); nothing was imported")

    # One ValidationError object per row would cost half a gigabyte for a million bad
    # rows, so the per-row messages are built when someone asks for them.
    @property
    def error_list(self) -> list[ValidationError]:
        return [ValidationError(f"line {e.line}: {e.message}") for e in self.errors]

    @error_list.setter
    def error_list(self, _value: list[ValidationError]) -> None:
        # ValidationError.__init__ stores [self]; the list always comes from ``errors``.
        pass


@dataclass(frozen=True)
class DomainImportSummary:
    domains: int
    names: int
    attributes: int


# --- reading rows -------------------------------------------------------------------------


def cell(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value)).strip()


def parse_enabled(text: str) -> bool:
    lowered = text.lower()
    if not lowered or lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"enabled: {text!r} is not one of yes, no, true, false, 1, 0")


def messages_of(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


def checked(problems: list[str], check: Callable[..., Any], *args: Any) -> Any:
    """check(*args), or None with its complaint added to ``problems``."""
    try:
        return check(*args)
    except ValidationError as exc:
        problems.append(messages_of(exc))
        return None


def header_problems(
    columns: list[str], *, required: Iterable[str], unknown: Callable[[Iterable[str]], list[str]]
) -> list[str]:
    problems = []
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        problems.append(f"column(s) given twice: {', '.join(duplicates)}")
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    problems.extend(unknown(columns))
    return problems


class ColumnCheck:
    """The unknown columns of a row, remembered per set of keys (rows share their keys)."""

    def __init__(self, unknown: Callable[[Iterable[str]], list[str]]) -> None:
        self._unknown = unknown
        self._seen: dict[tuple[str, ...], list[str]] = {}

    def problems(self, row: Mapping[str, Any]) -> list[str]:
        keys = tuple(row)
        if keys not in self._seen:
            self._seen[keys] = self._unknown(keys)
        return self._seen[keys]


def _csv_records(stream) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) per record, skipping blank lines; quoted fields may span lines."""
    reader = csv.reader(stream, strict=True)
    end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise ImportRejected([RowError(end + 1, "the file is not UTF-8 text")]) from None
        except csv.Error as exc:
            raise ImportRejected([RowError(reader.line_num, f"bad CSV: {exc}")]) from None
        start, end = end + 1, reader.line_num
        if any(field.strip() for field in fields):
            yield start, fields


def _as_mappings(columns: list[str], records: Iterator) -> NumberedRows:
    width = len(columns)
    for line, fields in records:
        row = dict(zip(columns, fields, strict=False))
        if len(fields) > width:
            row[EXTRA_VALUES] = " ".join(fields[width:])
        yield line, row


@contextmanager
def open_csv(
    path: str | Path, *, required: Iterable[str], unknown: Callable[[Iterable[str]], list[str]]
) -> Iterator[NumberedRows]:
    """The rows of a UTF-8 CSV file as (line, {column: value}); a bad header is refused."""
    # utf-8-sig: spreadsheets often start their UTF-8 exports with a byte order mark.
    with open(path, encoding="utf-8-sig", newline="") as stream:
        records = _csv_records(stream)
        first = next(records, None)
        if first is None:
            raise ImportRejected([RowError(1, "the file is empty; a header row is required")])
        line, header = first
        columns = [name.strip().lower() for name in header]
        problems = header_problems(columns, required=required, unknown=unknown)
        if problems:
            raise ImportRejected([RowError(line, problem) for problem in problems])
        yield _as_mappings(columns, records)


# --- staging tables -----------------------------------------------------------------------


class Staging:
    """The temporary tables of one import.

    PostgreSQL loads them with COPY and numbers their rows from the target table's id
    sequence as they arrive, so child rows join their parent by line number; SQLite loads
    them with executemany and takes the ids back after inserting the parents.
    """

    def __init__(self, cursor) -> None:
        self.cursor = cursor
        self.numbers_rows = connection.vendor == "postgresql"
        self.tables: list[str] = []

    def create(self, name: str, columns: str, *, ids_of: str | None = None) -> None:
        id_column = ""
        if ids_of is not None:
            id_column = ", id bigint"
            if self.numbers_rows:
                self.cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [ids_of])
                (sequence,) = self.cursor.fetchone()
                id_column += f" NOT NULL DEFAULT nextval('{sequence}'::regclass)"
        on_commit = " ON COMMIT DROP" if self.numbers_rows else ""
        self.cursor.execute(f"DROP TABLE IF EXISTS {self._temporary(name)}")
        self.cursor.execute(
            f"CREATE TEMPORARY TABLE {name} (line integer NOT NULL, {columns}{id_column})"
            f"{on_commit}"
        )
        self.tables.append(name)

    def _temporary(self, name: str) -> str:
        # Qualified, so that a permanent table of the same name is never dropped.
        return f"pg_temp.{name}" if self.numbers_rows else f"temp.{name}"

    def load(self, name: str, columns: str, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.numbers_rows:
            with self.cursor.cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(rows[0]))
            self.cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({placeholders})", rows)

    def analyze(self) -> None:
        # Autovacuum never analyses temporary tables; without statistics the planner
        # guesses their size and may pick nested loops over a million rows.
        if self.numbers_rows:
            for name in self.tables:
                self.cursor.execute(f"ANALYZE {name}")

    def take_ids(self, name: str, table: str, keys: tuple[str, ...]) -> None:
        """After inserting the parents (SQLite): their ids, found by their unique key."""
        if self.numbers_rows:
            return
        match = " AND ".join(f"t.{key} = {name}.{key}" for key in keys)
        self.cursor.execute(f"UPDATE {name} SET id = (SELECT t.id FROM {table} t WHERE {match})")

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        self.cursor.execute(sql, params or [])
        return self.cursor.fetchall()

    def drop(self) -> None:
        for name in reversed(self.tables):
            self.cursor.execute(f"DROP TABLE IF EXISTS {self._temporary(name)}")
        self.tables.clear()


@contextmanager
def staging() -> Iterator[Staging]:
    with connection.cursor() as cursor:
        tables = Staging(cursor)
        yield tables
        tables.drop()


# --- domains ------------------------------------------------------------------------------

DOMAIN_COLUMNS = ("name", "aliases", "did", "enabled")
ATTRIBUTE_PREFIX = "attr."


@dataclass(slots=True)
class _DomainRow:
    did: str
    enabled: bool
    hosts: list[HostName]
    # (name, Kamailio type, value, equal to the default)
    attributes: list[tuple[str, int, str, bool]]


def unknown_domain_columns(columns: Iterable[str]) -> list[str]:
    unknown, bad_attributes = [], []
    for column in columns:
        if column == EXTRA_VALUES:
            return ["the row has more values than the header has columns"]
        if column.startswith(ATTRIBUTE_PREFIX):
            try:
                validate_attribute_name(column[len(ATTRIBUTE_PREFIX) :])
            except ValidationError:
                bad_attributes.append(column)
        elif column not in DOMAIN_COLUMNS:
            unknown.append(column)
    problems = []
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(unknown)} (known: {', '.join(DOMAIN_COLUMNS)} "
            f"and {ATTRIBUTE_PREFIX}NAME)"
        )
    if bad_attributes:
        problems.append(
            f"bad attribute column(s): {', '.join(bad_attributes)} (attribute names: a letter, "
            f"then letters, digits or '_', at most 32; not {', '.join(sorted(RESERVED_NAMES))})"
        )
    return problems


def _attributes_of(row: Mapping[str, Any], problems: list[str]) -> list[tuple[str, int, str]]:
    attributes = []
    for column in row:
        if column.startswith(ATTRIBUTE_PREFIX) and cell(row, column):
            name = column[len(ATTRIBUTE_PREFIX) :]
            attribute = checked(problems, validate_attribute, name, cell(row, column))
            if attribute is not None:
                attributes.append(attribute)
    return attributes


def _clean_domain_row(row: Mapping[str, Any]) -> tuple[_DomainRow | None, list[str]]:
    """The row as it will be stored, or what is wrong with it (the rules of domain_create)."""
    problems: list[str] = []
    hosts = checked(
        problems, domain_hosts_clean, [cell(row, "name"), *cell(row, "aliases").split()]
    )
    did_text = cell(row, "did")
    canonical = hosts[0] if hosts else None
    did = checked(problems, domain_did_for, canonical, did_text) if hosts or did_text else None
    enabled = checked(problems, parse_enabled, cell(row, "enabled"))
    attributes = _attributes_of(row, problems)
    if problems:
        return None, problems
    return _DomainRow(
        did=did,
        enabled=enabled,
        hosts=hosts,
        attributes=[
            (key, kind, value, is_default_value(key, value, did=did))
            for key, kind, value in attributes
        ],
    ), []


class _DomainLoader:
    """Validates rows and loads the good ones into the staging tables, a chunk at a time."""

    def __init__(self, tables: Staging) -> None:
        self.tables = tables
        self.errors: list[RowError] = []
        self.domains = self.names = self.attributes = 0
        self._domains: list[tuple] = []
        self._names: list[tuple] = []
        self._attributes: list[tuple] = []
        tables.create(
            "bulk_domain", "did text NOT NULL, enabled boolean NOT NULL", ids_of="domains_domain"
        )
        tables.create(
            "bulk_domain_name",
            "name text NOT NULL, kind text NOT NULL, is_canonical boolean NOT NULL",
        )
        tables.create(
            "bulk_domain_attr",
            "name text NOT NULL, type integer NOT NULL, value text NOT NULL, "
            "is_default boolean NOT NULL",
        )

    def add(self, rows: NumberedRows) -> None:
        columns = ColumnCheck(unknown_domain_columns)
        for line, row in rows:
            problems = columns.problems(row)
            clean, row_problems = _clean_domain_row(row) if not problems else (None, [])
            for problem in problems or row_problems:
                self.errors.append(RowError(line, problem))
            if clean is None:
                continue
            self._domains.append((line, clean.did, clean.enabled))
            self._names.extend(
                (line, host.value, host.kind, index == 0) for index, host in enumerate(clean.hosts)
            )
            self._attributes.extend((line, *attribute) for attribute in clean.attributes)
            if len(self._domains) >= CHUNK_ROWS:
                self._flush()
        self._flush()

    def _flush(self) -> None:
        self.domains += len(self._domains)
        self.names += len(self._names)
        self.attributes += len(self._attributes)
        self.tables.load("bulk_domain", "line, did, enabled", self._domains)
        self.tables.load("bulk_domain_name", "line, name, kind, is_canonical", self._names)
        self.tables.load(
            "bulk_domain_attr", "line, name, type, value, is_default", self._attributes
        )
        self._domains, self._names, self._attributes = [], [], []


def _domain_conflicts(tables: Staging) -> list[RowError]:
    """Names and dids given twice in the file or already taken in the database."""
    errors = []
    for line, name, first in tables.rows(
        """SELECT n.line, n.name, f.first FROM bulk_domain_name n
           JOIN (SELECT name, min(line) AS first FROM bulk_domain_name
                 GROUP BY name HAVING count(*) > 1) f ON f.name = n.name
           WHERE n.line > f.first"""
    ):
        errors.append(RowError(line, f"{name} is given twice: also on line {first}"))
    for line, name, did in tables.rows(
        """SELECT n.line, n.name, d.did FROM bulk_domain_name n
           JOIN domains_domainname t ON t.name = n.name
           JOIN domains_domain d ON d.id = t.domain_id"""
    ):
        errors.append(RowError(line, f"{name} already belongs to domain {did}"))
    for line, did, first in tables.rows(
        """SELECT s.line, s.did, f.first FROM bulk_domain s
           JOIN (SELECT did, min(line) AS first FROM bulk_domain
                 GROUP BY did HAVING count(*) > 1) f ON f.did = s.did
           WHERE s.line > f.first"""
    ):
        errors.append(RowError(line, f"domain id {did} is given twice: also on line {first}"))
    for line, did in tables.rows(
        "SELECT s.line, s.did FROM bulk_domain s JOIN domains_domain d ON d.did = s.did"
    ):
        errors.append(
            RowError(line, f"domain id {did} is taken by another domain; give another one")
        )
    return errors


def _refuse_conflicts(tables: Staging) -> None:
    errors = _domain_conflicts(tables)
    if errors:
        raise ImportRejected(errors)


def _write_domains(tables: Staging) -> None:
    # Dids and names in sorted order, as domain_create writes its names: of two writers
    # of the same keys, the later waits for the earlier at the first key they share,
    # never each for the other.
    ids = "id, " if tables.numbers_rows else ""
    tables.cursor.execute(
        f"""INSERT INTO domains_domain ({ids}did, state, enabled, origin)
            SELECT {ids}did, %s, enabled, %s FROM bulk_domain ORDER BY did""",
        [DomainState.ACTIVE, DomainOrigin.OPERATOR],
    )
    tables.take_ids("bulk_domain", "domains_domain", keys=("did",))
    tables.cursor.execute(
        """INSERT INTO domains_domainname (domain_id, name, kind, is_canonical)
           SELECT s.id, n.name, n.kind, n.is_canonical
           FROM bulk_domain_name n JOIN bulk_domain s ON s.line = n.line
           ORDER BY n.name"""
    )
    tables.cursor.execute(
        """INSERT INTO domains_domainattribute (domain_id, name, type, value, source, is_default)
           SELECT s.id, a.name, a.type, a.value, %s, a.is_default
           FROM bulk_domain_attr a JOIN bulk_domain s ON s.line = a.line""",
        [AttributeSource.OPERATOR],
    )


def _new_dids(tables: Staging) -> list[str]:
    return [did for (did,) in tables.rows("SELECT did FROM bulk_domain ORDER BY did")]


def _import_domain_rows(*, actor: Actor, rows: NumberedRows, source: str) -> DomainImportSummary:
    with transaction.atomic(), staging() as tables:
        loader = _DomainLoader(tables)
        loader.add(rows)
        tables.analyze()
        errors = loader.errors + _domain_conflicts(tables)
        if errors:
            raise ImportRejected(errors)
        summary = DomainImportSummary(
            domains=loader.domains, names=loader.names, attributes=loader.attributes
        )
        if summary.domains:
            # A concurrent request may commit a did or name of the file after the check:
            # the unique keys refuse the write, and the check, run again, finds the
            # winner and names it on its line, as a serial import is told.
            with lost_race(lambda: _refuse_conflicts(tables)):
                _write_domains(tables)
            domains_changed.send(sender=Domain, dids=_new_dids(tables))
        audit_record(
            actor=actor,
            action="import.domains",
            object_type="import",
            object_repr=source,
            after={"source": source, **asdict(summary)},
        )
    return summary


def import_domains(
    *, actor: Actor, rows: Iterable[Mapping[str, Any]], source: str = "rows"
) -> DomainImportSummary:
    """Create every domain of ``rows`` (keys as the CSV columns), numbered from 1, or none."""
    return _import_domain_rows(actor=actor, rows=enumerate(rows, start=1), source=source)


def import_domains_csv(*, actor: Actor, path: str | Path) -> DomainImportSummary:
    """Create every domain of a CSV file, or none; errors carry the file's line numbers."""
    with open_csv(path, required=("name",), unknown=unknown_domain_columns) as rows:
        return _import_domain_rows(actor=actor, rows=rows, source=Path(path).name)
