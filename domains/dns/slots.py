"""Housekeeping's schedule and bookkeeping: which slot runs now, the host names of a slot's
domains (in chunks of whole domains), their check rows, one running run per slot, and the
circuit breaker's limit.

A run takes one slot of the domains (domain id modulo the number of slots), so the beat
schedule spreads every domain, with all its host names, once over the check interval.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Mod
from django.utils import timezone

from domains.dns.lifecycle import Counters
from domains.dns.observation import Observation
from domains.dns.policy import DnsPolicy
from domains.models import (
    DnsCheck,
    DomainCheck,
    DomainClaim,
    DomainName,
    DomainState,
    HousekeepingRun,
    NameCheck,
    NameState,
)
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
    """What a run needs of one host name of a domain: the domain's state as it was
    listed, and the owner's token, looked for at the canonical name only."""

    domain_id: int
    name: str
    state: str
    state_changed_at: datetime
    token: str | None = None
    name_id: int = 0
    canonical: bool = True


@dataclass
class Held:
    """A negative change waiting for the end of the run (and the circuit breaker): of a
    domain's own lifecycle (``name_id`` None; ``row`` the name its verdict came from) or
    of one of its host names'."""

    row: Row
    counters: Counters
    to_state: str | None
    needs_authority: bool
    observation: Observation | None
    from_state: str
    name_id: int | None = None
    # The domain's names that point at us, as this run saw them.
    pointing: tuple[str, ...] = ()


@dataclass
class Tally:
    # Names checked (the unit of DNS work), and their domains.
    checked: int = 0
    domains: int = 0
    queries: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    transitions: dict[str, int] = field(default_factory=dict)
    name_transitions: dict[str, int] = field(default_factory=dict)
    # Domains without an answer for too many checks in a row: how many, and the first few.
    unknown_alert_count: int = 0
    unknown_alerts: list[str] = field(default_factory=list)
    attributes: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1

    def count_name(self, observation: Observation, outcome: str) -> None:
        self.checked += 1
        self.queries += observation.queries
        self.count(self.verdicts, str(observation.sip.verdict))
        self.count(self.outcomes, str(outcome))

    def alert_unknown(self, name: str) -> None:
        self.unknown_alert_count += 1
        if len(self.unknown_alerts) < 50:
            self.unknown_alerts.append(name)

    def as_summary(self) -> dict[str, Any]:
        return {
            "domains": self.domains,
            "verdicts": self.verdicts,
            "outcomes": self.outcomes,
            "transitions": self.transitions,
            "name_transitions": self.name_transitions,
            "unknown_alerts": self.unknown_alerts,
            "unknown_alert_count": self.unknown_alert_count,
            "attributes": self.attributes,
        }


def by_domain(rows: list[Row], seen: list[Observation]):
    """A chunk's (row, observation) pairs, by domain (rows come a domain's together)."""
    return groupby(zip(rows, seen, strict=True), key=lambda pair: pair[0].domain_id)


def still_checked(check: NameCheck) -> bool:
    """Whether housekeeping checks the name (not exempted or removed since it was listed)."""
    return not check.exempt and check.state != NameState.REMOVED


def save_checks(
    checks: Iterable[DnsCheck], fields: list[str], model: type[DnsCheck] = DomainCheck
) -> None:
    """Write ``fields`` of many check rows of ``model``: one UPDATE statement, executed
    per row.

    Django's bulk_update builds a CASE expression per field and row, which costs about
    3 ms a domain here; a prepared UPDATE run by executemany costs a few µs.
    """
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    statement = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    )
    prepared = [_preparing(column) for column in columns]
    rows = [
        [
            value if prepare is None else prepare(value, connection)
            for value, prepare in zip(
                [getattr(check, column.attname) for column in columns], prepared, strict=True
            )
        ]
        + [check.pk]
        for check in checks
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(statement, rows)


# A run reads a check row for its counters and state and overwrites the evidence: reading
# the old evidence (JSON, the largest column) is half the cost of reading the rows.
NOT_READ = ("evidence",)


# Columns whose Python values the database driver takes as they are: preparing them through
# the field (get_db_prep_save) cost a third of writing 200,000 rows.
_AS_THEY_ARE = {"CharField", "PositiveIntegerField", "IntegerField", "BooleanField"}


def _preparing(column):
    """How a column's value is prepared for the driver; None: it is not."""
    kind = column.get_internal_type()
    if kind in _AS_THEY_ARE or (kind == "DateTimeField" and connection.vendor == "postgresql"):
        return None
    return column.get_db_prep_save


def checks_of(domain_ids: list[int]) -> dict[int, DomainCheck]:
    """The check rows of these domains (locked by the caller), created where missing;
    their evidence is not read (write it before saving the rows)."""
    checks = DomainCheck.objects.defer(*NOT_READ).in_bulk(domain_ids)
    missing = [DomainCheck(domain_id=i) for i in domain_ids if i not in checks]
    DomainCheck.objects.bulk_create(missing)
    checks.update((check.domain_id, check) for check in missing)
    return checks


def current_slot(now: datetime, policy: DnsPolicy) -> int:
    every = policy.housekeeping_every.total_seconds()
    return int(now.timestamp() // every) % policy.slots


def next_check_at(domain_id: int, now: datetime, policy: DnsPolicy) -> datetime:
    """When the next run of the domain's slot is due: the start of the next interval after
    ``now`` that current_slot gives to it (beat starts it during that interval)."""
    every = policy.housekeeping_every.total_seconds()
    period = int(now.timestamp() // every)
    ahead = (domain_id % policy.slots - period) % policy.slots or policy.slots
    return datetime.fromtimestamp((period + ahead) * every, tz=now.tzinfo)


# IP literals: no DNS name, checked against the configured proxy addresses
# (domains.dns.lifecycle.decide_literal).
LITERAL_KINDS = (NameKind.IPV4, NameKind.IPV6)


def slot_names(slot: int, slots: int, *, literals: bool = False):
    """The names of the slot's domains that housekeeping checks: every host name (or, with
    ``literals``, every IP literal) of a managed domain still checked, but those exempt
    from housekeeping or removed by it. A disabled literal is checked by every run, whatever
    its slot: no DNS question is needed, so it is served again within one run of its
    address becoming ours again."""
    kinds = LITERAL_KINDS if literals else (NameKind.HOSTNAME,)
    names = (
        DomainName.objects.filter(kind__in=kinds, domain__state__in=CHECKED_STATES)
        .exclude(domain__dns_check__managed=False)
        .exclude(dns_check__exempt=True)
        .exclude(dns_check__state=NameState.REMOVED)
    )
    if slots > 1:
        in_slot = Q(slot=slot)
        if literals:
            in_slot |= Q(dns_check__state=NameState.DISABLED)
        names = names.annotate(slot=Mod(F("domain_id"), slots)).filter(in_slot)
    return names


ROW_FIELDS = (
    "domain_id",
    "pk",
    "name",
    "is_canonical",
    "domain__state",
    "domain__state_changed_at",
    "domain__tenant_id",
)


def slot_rows(
    slot: int, slots: int, chunk_size: int, *, literals: bool = False
) -> Iterator[list[Row]]:
    """The slice in chunks of about ``chunk_size`` names (host names, or ``literals``), a
    domain's names always in one chunk, by domain id (keyset pagination: memory stays
    flat)."""
    last = 0
    while True:
        names = slot_names(slot, slots, literals=literals).order_by("domain_id", "pk")
        chunk = list(names.filter(domain_id__gt=last).values_list(*ROW_FIELDS)[:chunk_size])
        if not chunk:
            return
        last = chunk[-1][0]
        if len(chunk) == chunk_size:
            # The last domain's other names, past the limit.
            chunk += names.filter(domain_id=last, pk__gt=chunk[-1][1]).values_list(*ROW_FIELDS)
        # The owner's token is looked for at a canonical host name only.
        with_tenant = {row[0] for row in chunk if row[6] is not None and row[3] and not literals}
        tokens = dict(
            DomainClaim.objects.filter(domain_id__in=with_tenant, tenant_id=F("domain__tenant_id"))
            .exclude(verified_at=None)
            .values_list("domain_id", "token")
        )
        yield [
            Row(r[0], r[2], r[4], r[5], tokens.get(r[0]) if r[3] else None, r[1], r[3])
            for r in chunk
        ]


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
    """The most names one run may turn negative before the circuit breaker holds them."""
    return max(math.ceil(checked * policy.breaker_percent / 100), policy.breaker_minimum)
