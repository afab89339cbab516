"""Writing checked records in bulk: what restoring a backup and adopting a Kamailio share.

The caller has checked the records against the rules and the database and holds the
transaction. Ids are reserved from each table's own sequence (never reused, as the audit
trail expects), the large tables are loaded with COPY on PostgreSQL (executemany on
SQLite), the small ones with bulk_create. One ``domains_changed`` signal covers it all:
one generation bump, one reload after the commit.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.models import Model

from domains.dns.claims import claim_expiry
from domains.models import (
    Domain,
    DomainAttribute,
    DomainCheck,
    DomainClaim,
    DomainName,
    NameCheck,
    Tenant,
)
from domains.signals import domains_changed
from portability.records import Document
from proxies.models import Proxy
from serweb.bulk import Staging
from subscribers.models import Subscriber, UserAlias, ValidFrom


@contextmanager
def concurrent_writes_refused() -> Iterator[None]:
    """The checks ran inside the transaction, but another writer may commit a conflicting
    row first (a second restore, an adoption, a domain created meanwhile); the database's
    keys then refuse this one, and nothing of it is written."""
    try:
        yield
    except IntegrityError:
        raise ValidationError(
            "a concurrent change conflicts with this run; nothing was written, run it again"
        ) from None


@dataclass(frozen=True)
class WriteSummary:
    tenants: int
    domains: int
    names: int
    attributes: int
    subscribers: int
    valid_froms: int
    user_aliases: int
    claims: int
    proxies: int


def reserve_ids(cursor, model: type[Model], count: int) -> list[int]:
    """``count`` ids for new rows of ``model``, taken from its sequence.

    SQLite: call with the database's write lock held (after a first write in the
    transaction); its AUTOINCREMENT counter moves past explicit ids by itself."""
    if count == 0:
        return []
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())
    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
    row = cursor.fetchone()
    cursor.execute(f'SELECT max(id) FROM "{table}"')
    start = max(row[0] if row else 0, cursor.fetchone()[0] or 0) + 1
    return list(range(start, start + count))


def _with_ids(cursor, model: type[Model], items: list) -> list[tuple]:
    """(item, a new id of ``model``) for each item."""
    return list(zip(items, reserve_ids(cursor, model, len(items)), strict=True))


def _copy(tables: Staging, model: type[Model], fields: Sequence[str], rows: list[tuple]) -> None:
    columns = ", ".join(model._meta.get_field(name).column for name in fields)
    # Staging.load makes COPY's errors Django's: a concurrent writer's key violation is an
    # IntegrityError like any other.
    tables.load(model._meta.db_table, columns, rows)


def _timestamps() -> Callable[[datetime | None], Any]:
    """How a timestamp goes to the database's cursor: as it is to PostgreSQL, as naive UTC
    text to SQLite."""
    if connection.vendor == "postgresql":
        return lambda value: value
    adapt = connection.ops.adapt_datetimefield_value
    return lambda value: None if value is None else adapt(value)


def document_write(document: Document) -> WriteSummary:
    """Insert every record of ``document``; call inside a transaction, after the checks."""
    dids = [record.did for record in document.domains]
    if dids:
        # First, so SQLite's write lock is held before any id is reserved. (Subscribers
        # need domains here, so there is no write without them.)
        domains_changed.send(sender=Domain, dids=dids)
    tenant_ids = _write_tenants(document)
    with connection.cursor() as cursor:
        tables = Staging(cursor)
        at = _timestamps()
        domain_ids = _write_domains(cursor, tables, at, document, tenant_ids)
        counts = _write_subscribers(cursor, tables, at, document, domain_ids)
    _write_claims(document, tenant_ids, domain_ids)
    _write_proxies(document)
    return WriteSummary(
        tenants=len(document.tenants),
        domains=len(document.domains),
        names=sum(len(d.names) for d in document.domains),
        attributes=sum(len(d.attributes) for d in document.domains),
        subscribers=len(document.subscribers),
        valid_froms=counts[0],
        user_aliases=counts[1],
        claims=sum(len(t.claims) for t in document.tenants),
        proxies=len(document.proxies),
    )


def _write_tenants(document: Document) -> dict[str, int]:
    if not document.tenants:
        return {}
    users = get_user_model()
    owners = users.objects.bulk_create(
        users(
            username=t.owner.username,
            email=t.owner.email,
            first_name=t.owner.first_name,
            last_name=t.owner.last_name,
            is_active=t.owner.is_active,
            password=t.owner.password,
            date_joined=t.owner.date_joined,
            last_login=t.owner.last_login,
        )
        for t in document.tenants
    )
    # Primary keys come back from bulk_create on both databases (RETURNING).
    tenants = Tenant.objects.bulk_create(
        Tenant(name=t.name, owner_id=owner.pk, created_at=t.created_at)
        for t, owner in zip(document.tenants, owners, strict=True)
    )
    return {tenant.name: tenant.pk for tenant in tenants}


def _write_domains(cursor, tables: Staging, at, document: Document, tenant_ids) -> dict[str, int]:
    records = document.domains
    ids = reserve_ids(cursor, Domain, len(records))
    domain_ids = {record.did: pk for record, pk in zip(records, ids, strict=True)}
    _copy(
        tables,
        Domain,
        ["id", "did", "state", "enabled", "origin", "tenant", "created_at", "updated_at"]
        + ["state_changed_at"],
        [
            (
                pk,
                r.did,
                r.state,
                r.enabled,
                r.origin,
                tenant_ids[r.tenant] if r.tenant is not None else None,
                at(r.created_at),
                at(r.updated_at),
                at(r.state_changed_at),
            )
            for r, pk in zip(records, ids, strict=True)
        ],
    )
    names = _with_ids(
        cursor, DomainName, [(domain_ids[r.did], n) for r in records for n in r.names]
    )
    _copy(
        tables,
        DomainName,
        ["id", "domain", "name", "kind", "is_canonical", "created_at"],
        [
            (pk, domain_id, n.name, n.kind, n.canonical, at(n.created_at))
            for (domain_id, n), pk in names
        ],
    )
    attributes = [(domain_ids[r.did], a) for r in records for a in r.attributes]
    _copy(
        tables,
        DomainAttribute,
        ["id", "domain", "name", "type", "value", "source", "is_default", "updated_at"],
        [
            (pk, domain_id, a.name, a.type, a.value, a.source, a.is_default, at(a.updated_at))
            for (domain_id, a), pk in _with_ids(cursor, DomainAttribute, attributes)
        ],
    )
    DomainCheck.objects.bulk_create(
        (
            DomainCheck(domain_id=domain_ids[r.did], **asdict(r.dns))
            for r in records
            if r.dns is not None
        ),
        batch_size=2000,
    )
    NameCheck.objects.bulk_create(
        (NameCheck(name_id=pk, **asdict(n.dns)) for (_domain, n), pk in names if n.dns),
        batch_size=2000,
    )
    return domain_ids


def _write_subscribers(
    cursor, tables: Staging, at, document: Document, domain_ids: dict[str, int]
) -> tuple[int, int]:
    records = document.subscribers
    ids = reserve_ids(cursor, Subscriber, len(records))
    _copy(
        tables,
        Subscriber,
        ["id", "domain", "username", "ha1", "ha1b", "ha1_realm", "password", "email"]
        + ["enabled", "created_at", "updated_at"],
        [
            (
                pk,
                domain_ids[r.domain],
                r.username,
                r.ha1,
                r.ha1b,
                r.ha1_realm,
                r.password,
                r.email,
                r.enabled,
                at(r.created_at),
                at(r.updated_at),
            )
            for r, pk in zip(records, ids, strict=True)
        ],
    )
    froms = [(pk, v) for r, pk in zip(records, ids, strict=True) for v in r.valid_from]
    _copy(
        tables,
        ValidFrom,
        ["id", "subscriber", "from_user", "created_at"],
        [
            (pk, subscriber_id, v.user, at(v.created_at))
            for (subscriber_id, v), pk in _with_ids(cursor, ValidFrom, froms)
        ],
    )
    aliases = [(pk, a) for r, pk in zip(records, ids, strict=True) for a in r.aliases]
    _copy(
        tables,
        UserAlias,
        ["id", "domain", "username", "subscriber", "created_at"],
        [
            (pk, domain_ids[a.domain], a.username, subscriber_id, at(a.created_at))
            for (subscriber_id, a), pk in _with_ids(cursor, UserAlias, aliases)
        ],
    )
    return len(froms), len(aliases)


def _write_claims(document: Document, tenant_ids, domain_ids) -> None:
    keep_for = claim_expiry()
    claims: Iterable[DomainClaim] = (
        DomainClaim(
            tenant_id=tenant_ids[t.name],
            name=c.name,
            token=c.token,
            domain_id=domain_ids[c.domain] if c.domain is not None else None,
            created_at=c.created_at,
            expires_at=c.created_at + keep_for if c.verified_at is None else None,
            verified_at=c.verified_at,
            checked_at=c.checked_at,
            result=c.result,
        )
        for t in document.tenants
        for c in t.claims
    )
    DomainClaim.objects.bulk_create(claims, batch_size=2000)


def _write_proxies(document: Document) -> None:
    Proxy.objects.bulk_create(
        Proxy(
            name=p.name,
            transport=p.transport,
            address=p.address,
            enabled=p.enabled,
            sip_address=p.sip_address,
            created_at=p.created_at,
        )
        for p in document.proxies
    )
