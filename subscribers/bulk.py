"""Bulk provisioning of subscribers: ``import subscribers FILE.csv`` and the portal's
import, on the pipeline of serweb.bulk, and the CSV export of a list.

The domains a file names are locked first, then its rows are checked with the rules of
subscriber_create, staged, checked for conflicts in SQL and written; one transaction and
one audit entry per file. No proxy reloads: Kamailio reads subscribers per request.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from domains.names import validate_sip_user
from domains.selectors import domain_realms, domain_refs_by_names
from domains.services import domains_lock
from serweb import bulk
from serweb.bulk import (
    EXTRA_VALUES,
    Actor,
    BulkImport,
    ColumnCheck,
    NumberedRows,
    RowError,
    StagedTable,
    cell,
    checked,
    parse_enabled,
)
from subscribers.models import Subscriber, ValidFrom
from subscribers.services import clean_email, credentials, validate_password

# Read at each run, so a test may make chunks small.
CHUNK_ROWS = bulk.CHUNK_ROWS

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


class SubscriberImport(BulkImport[SubscriberImportSummary]):
    """Rows keyed like the CSV's columns."""

    action = "import.subscribers"
    secret_columns = frozenset({"password", "ha1", "ha1b"})
    staged = (
        StagedTable(
            "bulk_subscriber",
            (
                ("domain_id", "bigint NOT NULL"),
                ("username", "text NOT NULL"),
                ("ha1", "text NOT NULL"),
                ("ha1b", "text NOT NULL"),
                ("ha1_realm", "text NOT NULL"),
                ("password", "text NOT NULL"),
                ("email", "text NOT NULL"),
                ("enabled", "boolean NOT NULL"),
            ),
            ids_of="subscribers_subscriber",
        ),
        StagedTable(
            "bulk_valid_from", (("position", "integer NOT NULL"), ("from_user", "text NOT NULL"))
        ),
    )
    # The domains the rows name are locked before anything about them is read.
    reads_twice = True

    def __init__(self, tables: bulk.Staging) -> None:
        super().__init__(tables)
        self._columns = ColumnCheck(unknown_subscriber_columns)
        self._domains: _LockedDomains | None = None

    @classmethod
    def header_problems(cls, columns: list[str]) -> list[str]:
        return bulk.header_problems(
            columns, required=("username", "domain"), unknown=_header_unknown
        )

    def chunk_rows(self) -> int:
        return CHUNK_ROWS

    def prepare(self, rows: NumberedRows) -> None:
        self._domains = _LockedDomains(cell(row, "domain") for _line, row in rows)

    def clean(self, row: Mapping[str, Any]) -> tuple[dict[str, list[tuple]], list[str]]:
        problems = self._columns.problems(row)
        if problems:
            return {}, problems
        domain = self._domains.get(cell(row, "domain"))
        columns, extra_froms, problems = _clean_subscriber_row(row, domain)
        if problems:
            return {}, problems
        return {
            "bulk_subscriber": [columns],
            "bulk_valid_from": [(i, user) for i, user in enumerate(extra_froms)],
        }, []

    def conflicts(self) -> list[RowError]:
        """Subscribers given twice in the file, existing already, or shadowed by a user
        alias."""
        tables, errors = self.tables, []
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
               JOIN subscribers_subscriber t
                 ON t.domain_id = s.domain_id AND t.username = s.username
               JOIN domains_domain d ON d.id = s.domain_id"""
        ):
            errors.append(RowError(line, f"{username}@{did} exists already"))
        for line, username, did in tables.rows(
            """SELECT s.line, s.username, d.did FROM bulk_subscriber s
               JOIN subscribers_useralias a
                 ON a.domain_id = s.domain_id AND a.username = s.username
               JOIN domains_domain d ON d.id = s.domain_id"""
        ):
            errors.append(
                RowError(line, f"{username}@{did} is a user alias; remove the alias first")
            )
        return errors

    def summary(self) -> SubscriberImportSummary:
        subscribers = self.tables.count("bulk_subscriber")
        # Every subscriber's own name is a valid From identity too.
        return SubscriberImportSummary(
            subscribers=subscribers, valid_froms=subscribers + self.tables.count("bulk_valid_from")
        )

    def sample(self, limit: int) -> list[dict[str, Any]]:
        return [
            {"line": line, "username": username, "domain": did, "enabled": enabled}
            for line, username, did, enabled in self.tables.rows(
                """SELECT s.line, s.username, d.did, s.enabled FROM bulk_subscriber s
                   JOIN domains_domain d ON d.id = s.domain_id ORDER BY s.line LIMIT %s""",
                [limit],
            )
        ]

    def write(self) -> None:
        # Under the domains' locks no service writes these user names; should anyone
        # else have, the check run again names the row it took.
        tables = self.tables
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
               SELECT s.id, v.from_user
               FROM bulk_valid_from v JOIN bulk_subscriber s ON s.line = v.line
               ORDER BY v.line, v.position"""
        )


def import_subscribers(
    *, actor: Actor, rows: Iterable[Mapping[str, Any]], source: str = "rows"
) -> SubscriberImportSummary:
    """Create every subscriber of ``rows`` (keys as the CSV columns), numbered from 1, or none."""
    open_rows = bulk.rows_from(SubscriberImport, rows)
    return bulk.run_import(
        SubscriberImport, actor=actor, open_rows=open_rows, source=source
    ).summary


def import_subscribers_csv(*, actor: Actor, path: str | Path) -> SubscriberImportSummary:
    """Create every subscriber of a CSV file, or none; errors carry the file's line numbers."""
    return bulk.import_file(SubscriberImport, actor=actor, path=path).summary


# --- export -------------------------------------------------------------------------------

EXPORT_COLUMNS = ("username", "domain", "email", "valid_from", "enabled")
EXPORT_CHUNK = 2000


def subscribers_export_csv(*, queryset: QuerySet[Subscriber]) -> Iterator[str]:
    """The subscribers of ``queryset`` as CSV lines in the columns an import takes, but for
    the secrets: no password and no hashes ever leave serweb. valid_from lists the From
    identities beside the subscriber's own name. Pages of EXPORT_CHUNK subscribers in the
    order of their unique key, two queries a page."""
    return bulk.csv_lines(EXPORT_COLUMNS, _subscriber_rows(queryset.order_by()))


def _subscriber_rows(selected: QuerySet[Subscriber]) -> Iterator[list]:
    after = Q()
    while True:
        subscribers = list(
            selected.filter(after)
            .order_by("domain_id", "username")
            .values_list("pk", "domain_id", "username", "domain__did", "email", "enabled")[
                :EXPORT_CHUNK
            ]
        )
        if not subscribers:
            return
        froms: dict[int, list[str]] = {}
        for subscriber_id, from_user in (
            ValidFrom.objects.filter(subscriber_id__in=[row[0] for row in subscribers])
            .order_by("id")
            .values_list("subscriber_id", "from_user")
        ):
            froms.setdefault(subscriber_id, []).append(from_user)
        for pk, _domain_id, username, did, email, enabled in subscribers:
            others = [user for user in froms.get(pk, []) if user != username]
            yield [username, did, email, " ".join(others), "yes" if enabled else "no"]
        if len(subscribers) < EXPORT_CHUNK:
            return
        _pk, domain_id, username = subscribers[-1][:3]
        after = Q(domain_id__gt=domain_id) | Q(domain_id=domain_id, username__gt=username)
