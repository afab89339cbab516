"""Bulk provisioning of subscribers: what ``import subscribers FILE.csv`` uses.

The same all-or-nothing pipeline as domains.bulk: the domains the file names locked
first, then rows checked with the rules of subscriber_create, streamed into staging
tables, conflicts found in SQL, and written with INSERT ... SELECT; one transaction and
one audit entry per file.
"""

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

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
    open_csv,
    parse_enabled,
    staging,
)
from domains.names import validate_sip_user
from domains.selectors import domain_realms, domain_refs_by_names
from domains.services import domains_lock
from serweb.db import lost_race
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


class _LockedDomains:
    """The domains a file names (any of a domain's names, or its did, as
    domain_get_by_name finds it), locked until the import commits, with their realms read
    under the locks: a realm changed or a domain deleted before is seen, and neither can
    happen before the import commits."""

    def __init__(self, raws: Iterable[str]) -> None:
        texts = sorted(set(raws))
        refs: dict[str, tuple[int, str] | None] = {}
        for chunk in _chunks(texts):
            refs.update(domain_refs_by_names(chunk))
        # Chunk after chunk in ascending id order: the whole set in id order, as every
        # writer that locks several domains takes them.
        locked: set[int] = set()
        for chunk in _chunks(sorted({ref[0] for ref in refs.values() if ref is not None})):
            locked.update(domains_lock(chunk))
        realms: dict[int, str] = {}
        for chunk in _chunks(sorted(locked)):
            realms.update(domain_realms(chunk))
        self._known = {
            raw: _DomainRef(*ref, realm=realms.get(ref[0], ref[1]))
            if ref is not None and ref[0] in locked
            else None
            for raw, ref in refs.items()
        }

    def get(self, raw: str) -> _DomainRef | None:
        return self._known[raw]


def _chunks(items: list) -> Iterator[list]:
    for start in range(0, len(items), CHUNK_ROWS):
        yield items[start : start + CHUNK_ROWS]


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
    """Validates rows a chunk at a time and loads the good ones into the staging tables."""

    def __init__(self, tables: Staging, domains: _LockedDomains) -> None:
        self.tables = tables
        self.errors: list[RowError] = []
        self.subscribers = self.valid_froms = 0
        self._domains = domains
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
        self.tables.load("bulk_subscriber", STAGED_COLUMNS, subscribers)
        self.tables.load("bulk_valid_from", "line, position, from_user", valid_froms)
        self.subscribers += len(subscribers)
        # Every subscriber's own name is a valid From identity too.
        self.valid_froms += len(subscribers) + len(valid_froms)


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


def _refuse_conflicts(tables: Staging) -> None:
    errors = _subscriber_conflicts(tables)
    if errors:
        raise ImportRejected(errors)


def _import_subscriber_rows(
    *, actor: Actor, open_rows: Callable[[], AbstractContextManager[NumberedRows]], source: str
) -> SubscriberImportSummary:
    """``open_rows`` gives the rows each time it is called: they are read twice, first for
    the domains they name, which are locked before anything about them is read."""
    with transaction.atomic(), staging() as tables:
        with open_rows() as rows:
            domains = _LockedDomains(cell(row, "domain") for _line, row in rows)
        loader = _SubscriberLoader(tables, domains)
        with open_rows() as rows:
            loader.add(rows)
        tables.analyze()
        errors = loader.errors + _subscriber_conflicts(tables)
        if errors:
            raise ImportRejected(errors)
        summary = SubscriberImportSummary(
            subscribers=loader.subscribers, valid_froms=loader.valid_froms
        )
        if summary.subscribers:
            # Under the domains' locks no service writes these user names; should anyone
            # else have, the check run again names the row it took.
            with lost_race(lambda: _refuse_conflicts(tables)):
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
    rows = list(rows)  # read twice
    return _import_subscriber_rows(
        actor=actor, open_rows=lambda: nullcontext(enumerate(rows, start=1)), source=source
    )


def import_subscribers_csv(*, actor: Actor, path: str | Path) -> SubscriberImportSummary:
    """Create every subscriber of a CSV file, or none; errors carry the file's line numbers."""
    return _import_subscriber_rows(
        actor=actor,
        open_rows=lambda: open_csv(path, required=("username", "domain"), unknown=_header_unknown),
        source=Path(path).name,
    )
