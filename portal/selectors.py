"""What the operators' dashboard shows, read in a fixed number of queries however many
domains, claims, proxies and audit entries there are."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import AuditEntry
from domains.dns.lifecycle import Counters, disable_earliest_at
from domains.dns.policy import DnsPolicy
from domains.models import SERVED_STATES, Domain, DomainClaim, DomainOrigin, DomainState
from domains.selectors import claims_waiting
from proxies.status import ProxyStatus, proxy_status_list

LIST_LENGTH = 10


@dataclass(frozen=True)
class StateRow:
    state: str
    label: str
    by_origin: list[int]  # in the order of DomainOrigin
    total: int
    switched_off: int  # of those, disabled by an operator


@dataclass(frozen=True)
class SuspectDomain:
    domain: Domain
    negatives: int
    first_negative_at: datetime | None
    managed: bool
    # The first moment housekeeping could disable it; None while no negative is counted.
    disable_at: datetime | None
    # Enough negatives, old enough: the next negative check disables it.
    disable_due: bool


@dataclass(frozen=True)
class Dashboard:
    origins: list[str]
    states: list[StateRow]
    totals_by_origin: list[int]
    total: int
    claims_waiting: list[DomainClaim]
    claims_waiting_count: int
    suspects: list[SuspectDomain]
    suspects_count: int
    negatives_to_disable: int
    proxies: list[ProxyStatus]
    audit: list[AuditEntry]

    @property
    def served(self) -> int:
        return sum(
            row.total - row.switched_off for row in self.states if row.state in SERVED_STATES
        )

    @property
    def proxies_live(self) -> int:
        return sum(1 for proxy in self.proxies if proxy.state == "live")

    @property
    def proxies_behind(self) -> bool:
        return any(proxy.state not in ("live", "disabled") for proxy in self.proxies)


def domain_counts() -> tuple[list[StateRow], list[int]]:
    """Domains per state and origin, every state and origin listed, in one query."""
    rows = (
        Domain.objects.values("state", "origin")
        .annotate(count=Count("pk"), off=Count("pk", filter=Q(enabled=False)))
        .order_by()
    )
    found = {(row["state"], row["origin"]): (row["count"], row["off"]) for row in rows}
    states = []
    for state in DomainState:
        cells = [found.get((state.value, origin.value), (0, 0)) for origin in DomainOrigin]
        states.append(
            StateRow(
                state=state.value,
                label=state.label,
                by_origin=[count for count, _off in cells],
                total=sum(count for count, _off in cells),
                switched_off=sum(off for _count, off in cells),
            )
        )
    totals = [sum(row.by_origin[i] for row in states) for i in range(len(DomainOrigin))]
    return states, totals


def suspect_domains(policy: DnsPolicy) -> tuple[list[SuspectDomain], int]:
    """The suspect domains nearest to being disabled: those housekeeping manages (a domain
    without a check row is managed) by their first negative, then the others."""
    suspects = Domain.objects.filter(state=DomainState.SUSPECT)
    listed = (
        suspects.select_related("dns_check")
        .prefetch_related("names")
        .order_by(
            Coalesce("dns_check__managed", Value(True)).desc(),
            F("dns_check__first_negative_at").asc(nulls_last=True),
            "did",
        )[:LIST_LENGTH]
    )
    found = []
    now = timezone.now()
    for domain in listed:
        check = getattr(domain, "dns_check", None)
        counters = Counters.of(check) if check is not None else Counters()
        managed = check is None or check.managed
        disable_at = disable_earliest_at(counters, policy, now) if managed else None
        found.append(
            SuspectDomain(
                domain=domain,
                negatives=counters.negatives,
                first_negative_at=counters.first_negative_at,
                managed=managed,
                disable_at=disable_at,
                disable_due=disable_at is not None and disable_at <= now,
            )
        )
    return found, suspects.count()


def dashboard() -> Dashboard:
    states, totals = domain_counts()
    waiting = claims_waiting()
    policy = DnsPolicy.from_settings()
    suspects, suspects_count = suspect_domains(policy)
    return Dashboard(
        origins=[origin.label for origin in DomainOrigin],
        states=states,
        totals_by_origin=totals,
        total=sum(totals),
        claims_waiting=list(
            waiting.select_related("tenant").defer("token").order_by("created_at")[:LIST_LENGTH]
        ),
        claims_waiting_count=waiting.count(),
        suspects=suspects,
        suspects_count=suspects_count,
        negatives_to_disable=policy.negatives_to_disable,
        proxies=proxy_status_list(pending_limit=0),
        audit=list(AuditEntry.objects.order_by("-created_at", "-id")[:LIST_LENGTH]),
    )
