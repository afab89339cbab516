"""Bulk provisioning of domains: ``import domains FILE.csv``, the API's bulk creation and
the portal's import, on the pipeline of serweb.bulk, and the CSV export of a list.

A whole file costs one transaction, one audit entry and one ``domains_changed`` signal,
hence one generation bump and one reload. Rows come as CSV columns (a file, or mappings
keyed like its columns) or as DomainItems that a caller has already parsed (the API).
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from domains.attributes import (
    RESERVED_NAMES,
    is_default_value,
    validate_attribute,
    validate_attribute_name,
)
from domains.models import (
    AttributeSource,
    Domain,
    DomainAttribute,
    DomainName,
    DomainOrigin,
    DomainState,
)
from domains.names import HostName
from domains.services import domain_did_for, domain_hosts_clean
from domains.signals import domains_changed
from serweb import bulk
from serweb.bulk import (
    EXTRA_VALUES,
    Actor,
    BulkImport,
    ColumnCheck,
    ImportRejected,
    RowError,
    StagedTable,
    cell,
    checked,
    parse_enabled,
)

__all__ = ["ImportRejected", "RowError"]

# Read at each run, so a test may make chunks small.
CHUNK_ROWS = bulk.CHUNK_ROWS

DOMAIN_COLUMNS = ("name", "aliases", "did", "enabled")
ATTRIBUTE_PREFIX = "attr."


@dataclass(frozen=True)
class DomainImportSummary:
    domains: int
    names: int
    attributes: int


@dataclass(frozen=True, slots=True)
class DomainItem:
    """One domain to create, parsed but not yet checked against the rules."""

    name: str
    aliases: Sequence[str] = ()
    did: str = ""
    enabled: bool = True
    attributes: Mapping[str, str] = field(default_factory=dict)


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


def item_of_columns(row: Mapping[str, Any]) -> tuple[DomainItem, list[str]]:
    """A row keyed like the CSV's columns as an item, or what is wrong with its cells."""
    problems: list[str] = []
    enabled = checked(problems, parse_enabled, cell(row, "enabled"))
    attributes = {
        column[len(ATTRIBUTE_PREFIX) :]: cell(row, column)
        for column in row
        if column.startswith(ATTRIBUTE_PREFIX) and cell(row, column)
    }
    item = DomainItem(
        name=cell(row, "name"),
        aliases=cell(row, "aliases").split(),
        did=cell(row, "did"),
        enabled=bool(enabled),
        attributes=attributes,
    )
    return item, problems


def _clean_item(item: DomainItem) -> tuple[dict[str, list[tuple]], list[str]]:
    """The item's staged rows, or what is wrong with it (the rules of domain_create)."""
    problems: list[str] = []
    hosts: list[HostName] | None = checked(problems, domain_hosts_clean, [item.name, *item.aliases])
    canonical = hosts[0] if hosts else None
    did = checked(problems, domain_did_for, canonical, item.did) if hosts or item.did else None
    attributes = []
    for name, value in item.attributes.items():
        attribute = checked(problems, validate_attribute, name, value)
        if attribute is not None:
            attributes.append(attribute)
    if problems:
        return {}, problems
    return {
        "bulk_domain": [(did, item.enabled)],
        "bulk_domain_name": [
            (host.value, host.kind, index == 0) for index, host in enumerate(hosts)
        ],
        "bulk_domain_attr": [
            (key, kind, value, is_default_value(key, value, did=did))
            for key, kind, value in attributes
        ],
    }, []


class DomainImport(BulkImport[DomainImportSummary]):
    """Rows as DomainItems."""

    action = "import.domains"
    staged = (
        StagedTable(
            "bulk_domain",
            (("did", "text NOT NULL"), ("enabled", "boolean NOT NULL")),
            ids_of="domains_domain",
        ),
        StagedTable(
            "bulk_domain_name",
            (
                ("name", "text NOT NULL"),
                ("kind", "text NOT NULL"),
                ("is_canonical", "boolean NOT NULL"),
            ),
        ),
        StagedTable(
            "bulk_domain_attr",
            (
                ("name", "text NOT NULL"),
                ("type", "integer NOT NULL"),
                ("value", "text NOT NULL"),
                ("is_default", "boolean NOT NULL"),
            ),
        ),
    )

    def chunk_rows(self) -> int:
        return CHUNK_ROWS

    def clean(self, row: DomainItem) -> tuple[dict[str, list[tuple]], list[str]]:
        return _clean_item(row)

    def conflicts(self) -> list[RowError]:
        """Names and dids given twice in the file or already taken in the database."""
        tables, errors = self.tables, []
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

    def summary(self) -> DomainImportSummary:
        return DomainImportSummary(*(self.tables.count(table.name) for table in self.staged))

    def sample(self, limit: int) -> list[dict[str, Any]]:
        first = self.tables.rows(
            "SELECT line, did, enabled FROM bulk_domain ORDER BY line LIMIT %s", [limit]
        )
        names: dict[int, list[str]] = {}
        for line, name in self.tables.rows(
            """SELECT line, name FROM bulk_domain_name WHERE line <= %s
               ORDER BY line, is_canonical DESC, name""",
            [first[-1][0] if first else 0],
        ):
            names.setdefault(line, []).append(name)
        return [
            {
                "line": line,
                "name": names[line][0],
                "aliases": names[line][1:],
                "did": did,
                "enabled": enabled,
            }
            for line, did, enabled in first
        ]

    def write(self) -> None:
        # Dids and names in sorted order, as domain_create writes its names: of two
        # writers of the same keys, the later waits for the earlier at the first key they
        # share, never each for the other.
        tables = self.tables
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
            """INSERT INTO domains_domainattribute
                 (domain_id, name, type, value, source, is_default)
               SELECT s.id, a.name, a.type, a.value, %s, a.is_default
               FROM bulk_domain_attr a JOIN bulk_domain s ON s.line = a.line""",
            [AttributeSource.OPERATOR],
        )
        dids = [did for (did,) in tables.rows("SELECT did FROM bulk_domain ORDER BY did")]
        domains_changed.send(sender=Domain, dids=dids)


class DomainColumnsImport(DomainImport):
    """Rows keyed like the CSV's columns."""

    def __init__(self, tables: bulk.Staging) -> None:
        super().__init__(tables)
        self._columns = ColumnCheck(unknown_domain_columns)

    @classmethod
    def header_problems(cls, columns: list[str]) -> list[str]:
        return bulk.header_problems(columns, required=("name",), unknown=unknown_domain_columns)

    def clean(self, row: Mapping[str, Any]) -> tuple[dict[str, list[tuple]], list[str]]:
        problems = self._columns.problems(row)
        if problems:
            return {}, problems
        item, problems = item_of_columns(row)
        staged, rule_problems = _clean_item(item)
        problems += rule_problems
        return ({} if problems else staged), problems


def import_domain_items(
    *, actor: Actor, items: Iterable[DomainItem], source: str = "rows"
) -> DomainImportSummary:
    """Create every domain of ``items``, numbered from 1, or none."""
    report = bulk.run_import(
        DomainImport, actor=actor, open_rows=bulk.rows_from(DomainImport, items), source=source
    )
    return report.summary


def import_domains(
    *, actor: Actor, rows: Iterable[Mapping[str, Any]], source: str = "rows"
) -> DomainImportSummary:
    """Create every domain of ``rows`` (keys as the CSV columns), numbered from 1, or none."""
    open_rows = bulk.rows_from(DomainColumnsImport, rows)
    report = bulk.run_import(DomainColumnsImport, actor=actor, open_rows=open_rows, source=source)
    return report.summary


def import_domains_csv(*, actor: Actor, path: str | Path) -> DomainImportSummary:
    """Create every domain of a CSV file, or none; errors carry the file's line numbers."""
    return bulk.import_file(DomainColumnsImport, actor=actor, path=path).summary


# --- export -------------------------------------------------------------------------------

EXPORT_CHUNK = 2000


def domains_export_csv(*, queryset: QuerySet[Domain]) -> Iterator[str]:
    """The domains of ``queryset`` as CSV lines in the columns an import takes (so a file
    exported is a file to import elsewhere): name (the canonical one), aliases (every
    other name), did, enabled, and one ``attr.KEY`` column per attribute an operator set.
    Attributes DNS gave are left to DNS. Pages of EXPORT_CHUNK domains by did, three
    queries a page, values without model instances."""
    operator_set = DomainAttribute.objects.filter(source=AttributeSource.OPERATOR)
    selected = queryset.order_by()
    keys = sorted(
        set(operator_set.filter(domain__in=selected.values("pk")).values_list("name", flat=True))
    )
    header = [*DOMAIN_COLUMNS, *(f"{ATTRIBUTE_PREFIX}{key}" for key in keys)]
    return bulk.csv_lines(header, _domain_rows(selected, operator_set, keys))


def _domain_rows(selected: QuerySet[Domain], operator_set, keys: list[str]) -> Iterator[list]:
    last = None
    while True:
        page = selected.filter(did__gt=last) if last is not None else selected
        domains = list(page.order_by("did").values_list("pk", "did", "enabled")[:EXPORT_CHUNK])
        if not domains:
            return
        ids = [pk for pk, _did, _enabled in domains]
        names: dict[int, list[str]] = {}
        for domain_id, name in (
            DomainName.objects.filter(domain_id__in=ids)
            .order_by("domain_id", "-is_canonical", "name")
            .values_list("domain_id", "name")
        ):
            names.setdefault(domain_id, []).append(name)
        values: dict[int, dict[str, str]] = {}
        for domain_id, name, value in operator_set.filter(domain_id__in=ids).values_list(
            "domain_id", "name", "value"
        ):
            values.setdefault(domain_id, {})[name] = value
        for pk, did, enabled in domains:
            own, set_here = names.get(pk) or [did], values.get(pk, {})
            yield [
                own[0],
                " ".join(own[1:]),
                did,
                "yes" if enabled else "no",
                *(set_here.get(key, "") for key in keys),
            ]
        if len(domains) < EXPORT_CHUNK:
            return
        last = domains[-1][1]
