"""Reading all provisioning data out of the database as records, in one consistent view.

Everything is sorted by natural keys in Python (not by the database's collation), so the
same data gives the same records on PostgreSQL and SQLite, before and after a restore.
"""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from domains.models import (
    Domain,
    DomainAttribute,
    DomainCheck,
    DomainClaim,
    DomainName,
    NameCheck,
    Tenant,
)
from portability.records import (
    AliasRecord,
    AttributeRecord,
    CheckRecord,
    ClaimRecord,
    Document,
    DomainRecord,
    NameCheckRecord,
    NameRecord,
    OwnerRecord,
    ProxyRecord,
    SubscriberRecord,
    TenantRecord,
    ValidFromRecord,
)
from proxies.models import Proxy
from subscribers.models import Subscriber, UserAlias, ValidFrom

CHECK_FIELDS = [
    "managed",
    "verdict",
    "outcome",
    "reason",
    "evidence",
    "checked_at",
    "expires_at",
    "last_positive_at",
    "negatives",
    "first_negative_at",
    "last_negative_at",
    "unknowns",
]


# The fields of a name's check, in NameCheckRecord's order.
NAME_CHECK_FIELDS = [
    "state",
    "state_changed_at",
    "exempt",
    *(field for field in CHECK_FIELDS if field != "managed"),
]


def document_read() -> Document:
    """Every tenant, domain, subscriber and proxy, as one snapshot of the database."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            # One snapshot for all the queries: a change committed meanwhile is either
            # wholly in the backup or not at all.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return Document(
            tenants=_tenants(), domains=_domains(), subscribers=_subscribers(), proxies=_proxies()
        )


def _tenants() -> list[TenantRecord]:
    claims = defaultdict(list)
    for tenant_id, *fields in DomainClaim.objects.order_by().values_list(
        "tenant_id",
        "name",
        "token",
        "domain__did",
        "created_at",
        "verified_at",
        "checked_at",
        "result",
    ):
        claims[tenant_id].append(ClaimRecord(*fields))
    owner_fields = [f.name for f in OwnerRecord.__dataclass_fields__.values()]
    owners = {
        pk: OwnerRecord(*fields)
        for pk, *fields in get_user_model()
        .objects.filter(tenant__isnull=False)
        .order_by()
        .values_list("pk", *owner_fields)
    }
    records = [
        TenantRecord(
            name=name,
            created_at=created_at,
            owner=owners[owner_id],
            claims=sorted(claims[pk], key=lambda c: c.name),
        )
        for pk, name, created_at, owner_id in Tenant.objects.order_by().values_list(
            "pk", "name", "created_at", "owner_id"
        )
    ]
    return sorted(records, key=lambda t: t.name)


def _domains() -> list[DomainRecord]:
    name_checks = {
        name_id: NameCheckRecord(*fields)
        for name_id, *fields in NameCheck.objects.order_by().values_list(
            "name_id", *NAME_CHECK_FIELDS
        )
    }
    names = defaultdict(list)
    for pk, domain_id, *fields in DomainName.objects.order_by().values_list(
        "pk", "domain_id", "name", "kind", "is_canonical", "created_at"
    ):
        names[domain_id].append(NameRecord(*fields, dns=name_checks.get(pk)))
    attributes = defaultdict(list)
    for domain_id, *fields in DomainAttribute.objects.order_by().values_list(
        "domain_id", "name", "type", "value", "source", "is_default", "updated_at"
    ):
        attributes[domain_id].append(AttributeRecord(*fields))
    checks = {
        domain_id: CheckRecord(*fields)
        for domain_id, *fields in DomainCheck.objects.order_by().values_list(
            "domain_id", *CHECK_FIELDS
        )
    }
    records = [
        DomainRecord(
            *fields,
            names=sorted(names[pk], key=lambda n: (not n.canonical, n.name)),
            attributes=sorted(attributes[pk], key=lambda a: (a.name, a.source)),
            dns=checks.get(pk),
        )
        for pk, *fields in Domain.objects.order_by().values_list(
            "pk",
            "did",
            "state",
            "enabled",
            "origin",
            "tenant__name",
            "created_at",
            "updated_at",
            "state_changed_at",
        )
    ]
    return sorted(records, key=lambda d: d.did)


def _subscribers() -> list[SubscriberRecord]:
    froms = defaultdict(list)
    for subscriber_id, *fields in ValidFrom.objects.order_by().values_list(
        "subscriber_id", "from_user", "created_at"
    ):
        froms[subscriber_id].append(ValidFromRecord(*fields))
    aliases = defaultdict(list)
    for subscriber_id, *fields in UserAlias.objects.order_by().values_list(
        "subscriber_id", "domain__did", "username", "created_at"
    ):
        aliases[subscriber_id].append(AliasRecord(*fields))
    records = [
        SubscriberRecord(
            *fields,
            valid_from=sorted(froms[pk], key=lambda v: v.user),
            aliases=sorted(aliases[pk], key=lambda a: (a.domain, a.username)),
        )
        for pk, *fields in Subscriber.objects.order_by().values_list(
            "pk",
            "domain__did",
            "username",
            "ha1",
            "ha1b",
            "ha1_realm",
            "password",
            "email",
            "enabled",
            "created_at",
            "updated_at",
        )
    ]
    return sorted(records, key=lambda s: (s.domain, s.username))


def _proxies() -> list[ProxyRecord]:
    records = [
        ProxyRecord(*fields)
        for fields in Proxy.objects.order_by().values_list(
            "name", "transport", "address", "enabled", "sip_address", "created_at"
        )
    ]
    return sorted(records, key=lambda p: p.name)
