"""Housekeeping's schedule and bookkeeping: which slot runs now, the domains of a slot (in
chunks), their check rows, one running run per slot, and the circuit breaker's limit.

A run takes one slot of the domains (domain id modulo the number of slots), so the beat
schedule spreads every domain once over the check interval.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Mod
from django.utils import timezone

from domains.dns.policy import DnsPolicy
from domains.models import DomainCheck, DomainClaim, DomainName, DomainState, HousekeepingRun
from domains.names import NameKind

# Removed domains are not re-checked: restoring one is an operator's decision.
CHECKED_STATES = (
    DomainState.PENDING,
    DomainState.ACTIVE,
    DomainState.SUSPECT,
    DomainState.DISABLED,
)
# A run of a slot keeps other runs of it out this long at most (a worker killed in a run
# cannot end it).
RUN_LOCK = timedelta(hours=1)


@dataclass(frozen=True)
class Row:
    """What a run needs of one domain."""

    domain_id: int
    name: str
    state: str
    state_changed_at: datetime
    token: str | None = None


def save_checks(checks: Iterable[DomainCheck], fields: list[str]) -> None:
    """Write ``fields`` of many check rows: one UPDATE statement, executed per row.

    Django's bulk_update builds a CASE expression per field and row, which costs about
    3 ms a domain here; a prepared UPDATE run by executemany costs a few µs.
    """
    meta = DomainCheck._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    statement = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    )
    rows = [
        [column.get_db_prep_save(getattr(check, column.attname), connection) for column in columns]
        + [check.pk]
        for check in checks
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(statement, rows)


def checks_of(domain_ids: list[int]) -> dict[int, DomainCheck]:
    """The check rows of these domains (locked by the caller), created where missing."""
    checks = DomainCheck.objects.in_bulk(domain_ids)
    missing = [DomainCheck(domain_id=i) for i in domain_ids if i not in checks]
    DomainCheck.objects.bulk_create(missing)
    checks.update((check.domain_id, check) for check in missing)
    return checks


def current_slot(now: datetime, policy: DnsPolicy) -> int:
    every = policy.housekeeping_every.total_seconds()
    return int(now.timestamp() // every) % policy.slots


def slot_names(slot: int, slots: int):
    """The canonical host names of the slot's domains that housekeeping checks."""
    names = DomainName.objects.filter(
        is_canonical=True, kind=NameKind.HOSTNAME, domain__state__in=CHECKED_STATES
    ).exclude(domain__dns_check__managed=False)
    if slots > 1:
        names = names.annotate(slot=Mod(F("domain_id"), slots)).filter(slot=slot)
    return names


def slot_rows(slot: int, slots: int, chunk_size: int) -> Iterator[list[Row]]:
    """The slice in chunks, by id (keyset pagination: memory stays flat)."""
    last = 0
    while True:
        chunk = list(
            slot_names(slot, slots)
            .filter(domain_id__gt=last)
            .order_by("domain_id")
            .values_list(
                "domain_id",
                "name",
                "domain__state",
                "domain__state_changed_at",
                "domain__tenant_id",
            )[:chunk_size]
        )
        if not chunk:
            return
        last = chunk[-1][0]
        with_tenant = [row[0] for row in chunk if row[4] is not None]
        tokens = dict(
            DomainClaim.objects.filter(domain_id__in=with_tenant, tenant_id=F("domain__tenant_id"))
            .exclude(verified_at=None)
            .values_list("domain_id", "token")
        )
        yield [Row(r[0], r[1], r[2], r[3], tokens.get(r[0])) for r in chunk]


def claim_slot(slot: int, slots: int, now: datetime) -> HousekeepingRun | None:
    """The slot's new running run, or None when another one runs it.

    The claim is the insert itself: the database holds one running run per slot
    (housekeepingrun_one_running_per_slot), so of two workers starting the slot at once,
    one insert is refused. A run still marked running after RUN_LOCK died without saying
    so (a killed worker) and is ended first.
    """
    HousekeepingRun.objects.filter(
        slot=slot,
        slots=slots,
        status=HousekeepingRun.Status.RUNNING,
        started_at__lt=timezone.now() - RUN_LOCK,
    ).update(
        status=HousekeepingRun.Status.ABORTED,
        finished_at=timezone.now(),
        message=f"still running after {RUN_LOCK}: taken as crashed",
    )
    try:
        with transaction.atomic():
            return HousekeepingRun.objects.create(slot=slot, slots=slots, started_at=now)
    except IntegrityError:
        return None


def breaker_threshold(checked: int, policy: DnsPolicy) -> int:
    """The most domains one run may turn negative before the circuit breaker holds them."""
    return max(math.ceil(checked * policy.breaker_percent / 100), policy.breaker_minimum)
