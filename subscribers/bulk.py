"""Bulk provisioning of subscribers: what ``import subscribers FILE.csv`` uses.

The same all-or-nothing pipeline as domains.bulk: rows checked with the rules of
subscriber_create, streamed into staging tables, conflicts found in SQL, then written with
INSERT ... SELECT; one transaction, one audit entry and one reload per file.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.expressions import RawSQL

from audit.services import audit_record
from domains.bulk import (
    CHUNK_ROWS,
    EXTRA_VALUES,
    Actor,
    ColumnCheck,
    ImportRejected,
    NumberedRows,
    RowError,
    Staging,
    cell,
    checked,
    concurrent_changes_refused,
    open_csv,
    parse_enabled,
    staging,
)
from domains.models import Domain
from domains.names import validate_sip_user
from domains.selectors import domain_realms, domain_refs_by_names
from subscribers.services import clean_email, credentials, validate_password

SUBSCRIBER_COLUMNS = (
    "username",
    "domain",
    "password",
    "ha1",
    "ha1b",
    "email",
    "valid_from",
    "enabled",
)
_HASH = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class SubscriberImportSummary:
    subscribers: int
    valid_froms: int


@dataclass(frozen=True, slots=True)
class _DomainRef:
    id: int
    did: str
    realm: str


def unknown_subscriber_columns(columns: Iterable[str]) -> list[str]:
    columns = list(columns)
    if EXTRA_VALUES in columns:
        return ["the row has more values than the header has columns"]
    unknown = [c for c in columns if c not in SUBSCRIBER_COLUMNS]
    if unknown:
        return [f"unknown column(s): {', '.join(unknown)} (known: {', '.join(SUBSCRIBER_COLUMNS)})"]
    return []


def _header_unknown(columns: Iterable[str]) -> list[str]:
    columns = list(columns)
    problems = unknown_subscriber_columns(columns)
    if "password" not in columns and not {"ha1", "ha1b"} <= set(columns):
        problems.append("a password column, or ha1 and ha1b columns, are required")
    return problems


class _DomainResolver:
    """Any name of a domain, or its did, to the domain, as domain_get_by_name finds it;
    looked up a chunk at a time and remembered for the rest of the file."""

    def __init__(self) -> None:
        self._known: dict[str, _DomainRef | None] = {}

    def get(self, raw: str) -> _DomainRef | None:
        return self._known[raw]

    def resolve(self, raws: set[str]) -> None:
        new = raws - self._known.keys()
        if not new:
            return
        found = domain_refs_by_names(new)
        realms = domain_realms({ref[0] for ref in found.values() if ref is not None})
        for raw, ref in found.items():
            self._known[raw] = (
                None if ref is None else _DomainRef(*ref, realm=realms.get(ref[0], ref[1]))
            )


def _credentials(row: Mapping[str, Any], username: str, domain: _DomainRef) -> dict[str, str]:
    password = row.get("password") or ""
    ha1, ha1b = cell(row, "ha1"), cell(row, "ha1b")
    if password and (ha1 or ha1b):
        raise ValidationError("give either a password or ha1 and ha1b, not both")
    if password:
        validate_password(password)
        return credentials(username=username, did=domain.did, realm=domain.realm, password=password)
    if not (ha1 and ha1b):
        raise ValidationError("a password, or both ha1 and ha1b, are required")
    for column, value in (("ha1", ha1), ("ha1b", ha1b)):
        if not _HASH.match(value):
            raise ValidationError(f"{column} must be 32 lower-case hexadecimal digits")
    # Hashes migrated from elsewhere were computed with the realm the domain has now.
    return {"ha1": ha1, "ha1b": ha1b, "ha1_realm": domain.realm, "password": ""}


def _valid_froms(row: Mapping[str, Any], username: str) -> list[str]:
    users: list[str] = []
    for raw in cell(row, "valid_from").split():
        user = validate_sip_user(raw, what="From user name")
        if user in users:
            raise ValidationError(f"valid_from: {user} is given twice")
        # The subscriber's own name is always its first valid From identity.
        if user != username:
            users.append(user)
    return users


def _clean_subscriber_row(
    row: Mapping[str, Any], domain: _DomainRef | None
) -> tuple[tuple | None, list[str], list[str]]:
    """(subscriber columns, extra From users, problems), by the rules of subscriber_create."""
    problems: list[str] = []
    username = checked(problems, validate_sip_user, cell(row, "username"))
    hashes = None
    if domain is None:
        name = cell(row, "domain")
        problems.append(f"no domain named {name!r}" if name else "the domain is empty")
    elif username is not None:
        hashes = checked(problems, _credentials, row, username, domain)
    email = checked(problems, clean_email, cell(row, "email"))
    enabled = checked(problems, parse_enabled, cell(row, "enabled"))
    valid_froms = checked(problems, _valid_froms, row, username or "")
    if problems:
        return None, [], problems
    columns = (
        domain.id,
        username,
        hashes["ha1"],
        hashes["ha1b"],
        hashes["ha1_realm"],
        hashes["password"],
        email,
        enabled,
    )
    return columns, valid_froms, []


STAGED_COLUMNS = "line, domain_id, username, ha1, ha1b, ha1_realm, password, email, enabled"


class _SubscriberLoader:
    """Validates rows a chunk at a time (one look-up for the chunk's new domain names) and
    loads the good ones into the staging tables."""

    def __init__(self, tables: Staging) -> None:
        self.tables = tables
        self.errors: list[RowError] = []
        self.subscribers = self.valid_froms = 0
        self.dids: set[str] = set()
        self._domains = _DomainResolver()
        self._columns = ColumnCheck(unknown_subscriber_columns)
        tables.create(
            "bulk_subscriber",
            "domain_id bigint NOT NULL, username text NOT NULL, ha1 text NOT NULL, "
            "ha1b text NOT NULL, ha1_realm text NOT NULL, password text NOT NULL, "
            "email text NOT NULL, enabled boolean NOT NULL",
            ids_of="subscribers_subscriber",
        )
        tables.create("bulk_valid_from", "position integer NOT NULL, from_user text NOT NULL")

    def add(self, rows: NumberedRows) -> None:
        chunk: list[tuple[int, Mapping[str, Any]]] = []
        for numbered in rows:
            chunk.append(numbered)
            if len(chunk) >= CHUNK_ROWS:
                self._add_chunk(chunk)
                chunk = []
        self._add_chunk(chunk)

    def _add_chunk(self, chunk: list[tuple[int, Mapping[str, Any]]]) -> None:
        self._domains.resolve({cell(row, "domain") for _line, row in chunk})
        subscribers, valid_froms = [], []
        for line, row in chunk:
            problems = self._columns.problems(row)
            if not problems:
                domain = self._domains.get(cell(row, "domain"))
                columns, extra_froms, problems = _clean_subscriber_row(row, domain)
            for problem in problems:
                self.errors.append(RowError(line, problem))
            if problems:
                continue
            subscribers.append((line, *columns))
            valid_froms.extend((line, i, user) for i, user in enumerate(extra_froms))
            self.dids.add(domain.did)
        self.tables.load("bulk_subscriber", STAGED_COLUMNS, subscribers)
        self.tables.load("bulk_valid_from", "line, position, from_user", valid_froms)
        self.subscribers += len(subscribers)
        # Every subscriber's own name is a valid From identity too.
        self.valid_froms += len(subscribers) + len(valid_froms)


def _lock_domains() -> None:
    """Lock the domains the file adds subscribers to, as subscriber_create does, before
    the conflicts are looked for: a user alias created meanwhile cannot take a user name
    the file gives a subscriber. In id order, so that two imports wait for each other
    instead of deadlocking."""
    staged = RawSQL("SELECT domain_id FROM bulk_subscriber", ())
    locked = Domain.objects.select_for_update(no_key=True).filter(pk__in=staged).order_by("pk")
    list(locked.values_list("pk", flat=True))


def _subscriber_conflicts(tables: Staging) -> list[RowError]:
    """Subscribers given twice in the file, existing already, or shadowed by a user alias."""
    errors = []
    for line, username, did, first in tables.rows(
        """SELECT s.line, s.username, d.did, f.first FROM bulk_subscriber s
           JOIN (SELECT domain_id, username, min(line) AS first FROM bulk_subscriber
                 GROUP BY domain_id, username HAVING count(*) > 1) f
             ON f.domain_id = s.domain_id AND f.username = s.username
           JOIN domains_domain d ON d.id = s.domain_id
           WHERE s.line > f.first"""
    ):
        errors.append(RowError(line, f"{username}@{did} is given twice: also on line {first}"))
    for line, username, did in tables.rows(
        """SELECT s.line, s.username, d.did FROM bulk_subscriber s
           JOIN subscribers_subscriber t ON t.domain_id = s.domain_id AND t.username = s.username
           JOIN domains_domain d ON d.id = s.domain_id"""
    ):
        errors.append(RowError(line, f"{username}@{did} exists already"))
    for line, username, did in tables.rows(
        """SELECT s.line, s.username, d.did FROM bulk_subscriber s
           JOIN subscribers_useralias a ON a.domain_id = s.domain_id AND a.username = s.username
           JOIN domains_domain d ON d.id = s.domain_id"""
    ):
        errors.append(RowError(line, f"{username}@{did} is a user alias; remove the alias first"))
    return errors


def _write_subscribers(tables: Staging) -> None:
    ids = "id, " if tables.numbers_rows else ""
    tables.cursor.execute(
        f"""INSERT INTO subscribers_subscriber
              ({ids}domain_id, username, ha1, ha1b, ha1_realm, password, email, enabled)
            SELECT {ids}domain_id, username, ha1, ha1b, ha1_realm, password, email, enabled
            FROM bulk_subscriber"""
    )
    tables.take_ids("bulk_subscriber", "subscribers_subscriber", keys=("domain_id", "username"))
    # The own name first, so it is each subscriber's first valid From identity.
    tables.cursor.execute(
        """INSERT INTO subscribers_validfrom (subscriber_id, from_user)
           SELECT id, username FROM bulk_subscriber"""
    )
    tables.cursor.execute(
        """INSERT INTO subscribers_validfrom (subscriber_id, from_user)
           SELECT s.id, v.from_user FROM bulk_valid_from v JOIN bulk_subscriber s ON s.line = v.line
           ORDER BY v.line, v.position"""
    )


def _import_subscriber_rows(
    *, actor: Actor, rows: NumberedRows, source: str
) -> SubscriberImportSummary:
    with concurrent_changes_refused(), transaction.atomic(), staging() as tables:
        loader = _SubscriberLoader(tables)
        loader.add(rows)
        tables.analyze()
        _lock_domains()
        errors = loader.errors + _subscriber_conflicts(tables)
        if errors:
            raise ImportRejected(errors)
        summary = SubscriberImportSummary(
            subscribers=loader.subscribers, valid_froms=loader.valid_froms
        )
        if summary.subscribers:
            _write_subscribers(tables)
        # Counts only: the file's hashes and passwords are secrets.
        audit_record(
            actor=actor,
            action="import.subscribers",
            object_type="import",
            object_repr=source,
            after={"source": source, **asdict(summary)},
        )
    return summary


def import_subscribers(
    *, actor: Actor, rows: Iterable[Mapping[str, Any]], source: str = "rows"
) -> SubscriberImportSummary:
    """Create every subscriber of ``rows`` (keys as the CSV columns), numbered from 1, or none."""
    return _import_subscriber_rows(actor=actor, rows=enumerate(rows, start=1), source=source)


def import_subscribers_csv(*, actor: Actor, path: str | Path) -> SubscriberImportSummary:
    """Create every subscriber of a CSV file, or none; errors carry the file's line numbers."""
    with open_csv(path, required=("username", "domain"), unknown=_header_unknown) as rows:
        return _import_subscriber_rows(actor=actor, rows=rows, source=Path(path).name)
