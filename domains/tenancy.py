"""A tenant's own space: its domains as its pages list them (state, DNS status, the records
that fail), the warnings of its suspect domains and of the failing host names of its
domains still served, and giving a domain up.

Reads in a fixed number of queries per page, whatever the tenant holds; the one write,
``domain_release``, goes through domains.services like every other."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from domains.dns.failures import Failure, failing_records
from domains.dns.lifecycle import Counters, disable_earliest_at
from domains.dns.observation import Outcome
from domains.dns.policy import DnsPolicy
from domains.dns.publish import domain_records
from domains.models import (
    Domain,
    DomainCheck,
    DomainClaim,
    DomainState,
    NameCheck,
    NameState,
    Tenant,
)
from domains.names import NameKind
from domains.selectors import DomainNotFound
from domains.services import Actor, DeletionSummary, domain_delete, domain_lock

# Suspect domains named in the banner of every page of the tenant's; the rest are counted.
ALERTS_SHOWN = 5


@dataclass(frozen=True)
class DomainRow:
    domain: Domain
    check: DomainCheck | None
    failures: list[Failure]
    # For a suspect domain housekeeping manages: the first moment it could be disabled.
    disable_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.domain.canonical_name

    @property
    def failing(self) -> list[str]:
        """The failing records in short, each name and type once: for a list."""
        return list(dict.fromkeys(f"{f.record.rdtype} {f.record.name}" for f in self.failures))


def proven_tokens(domain_ids: list[int]) -> dict[int, str]:
    """The ownership token each of these domains keeps published, in one query."""
    return dict(
        DomainClaim.objects.filter(domain_id__in=domain_ids)
        .exclude(verified_at=None)
        .values_list("domain_id", "token")
    )


def domain_rows(domains: list[Domain], *, now: datetime | None = None) -> list[DomainRow]:
    """Each domain (its names prefetched, its check selected) with the records its latest
    check did not find: one query more, for the tokens."""
    policy = DnsPolicy.from_settings()
    now = now or timezone.now()
    tokens = proven_tokens([domain.pk for domain in domains])
    rows = []
    for domain in domains:
        check = getattr(domain, "dns_check", None)
        evidence = check.evidence if check is not None else {}
        name = evidence.get("domain") or domain.canonical_name
        expected = domain_records(name, token=tokens.get(domain.pk), policy=policy)
        disable_at = None
        if domain.state == DomainState.SUSPECT and check is not None and check.managed:
            disable_at = disable_earliest_at(Counters.of(check), policy, now)
        # A domain DNS proves is not failing, whatever else is missing.
        failing = check is not None and check.outcome == Outcome.NEGATIVE
        failures = failing_records(evidence, expected) if failing else []
        rows.append(DomainRow(domain, check, failures, disable_at))
    return rows


def tenant_domains(tenant: Tenant) -> QuerySet[Domain]:
    """The tenant's domains as its list shows them: names, latest check, subscribers.

    The subscribers are counted per domain of the page (a correlated subquery), not for
    every domain of the tenant before the page is cut, so a page costs the same for a
    tenant of any size."""
    subscribers = (
        Domain.objects.filter(pk=OuterRef("pk"))
        .annotate(count=Count("subscribers"))
        .values("count")
    )
    return (
        Domain.objects.filter(tenant=tenant)
        .select_related("dns_check")
        .prefetch_related("names")
        .annotate(subscriber_count=Subquery(subscribers))
        .order_by("did")
    )


@dataclass(frozen=True)
class NameAlert:
    """A host name of a served domain that no longer points at us: suspect (still served,
    ``disable_at`` the first moment it could stop being) or disabled (not served)."""

    check: NameCheck
    failures: list[Failure]
    disable_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.check.name.name

    @property
    def domain(self) -> Domain:
        return self.check.name.domain


@dataclass(frozen=True)
class Alerts:
    shown: list[DomainRow]
    count: int
    names: list[NameAlert] = field(default_factory=list)
    names_count: int = 0

    @property
    def more(self) -> int:
        return self.count - len(self.shown)

    @property
    def names_more(self) -> int:
        return self.names_count - len(self.names)

    @property
    def any(self) -> bool:
        return bool(self.count or self.names_count)


def failing_names(tenant: Tenant, *, now: datetime | None = None) -> tuple[list[NameAlert], int]:
    """The host names of the tenant's domains still served (active) that are suspect or
    disabled, the nearest to being disabled first, and how many there are: what fails at
    each. A domain none of whose names points at us is suspect itself, and its own alert
    tells. Exempt names are the operator's; IP literals depend on the proxies' addresses,
    not on the tenant's DNS. Two queries, three with more than can be shown."""
    policy = DnsPolicy.from_settings()
    now = now or timezone.now()
    failing = NameCheck.objects.filter(
        name__domain__tenant=tenant,
        name__domain__state=DomainState.ACTIVE,
        name__domain__enabled=True,
        name__kind=NameKind.HOSTNAME,
        state__in=(NameState.SUSPECT, NameState.DISABLED),
        exempt=False,
    )
    shown = list(
        failing.select_related("name__domain").order_by("state", "first_negative_at", "name__name")[
            :ALERTS_SHOWN
        ]
    )
    count = len(shown) if len(shown) < ALERTS_SHOWN else failing.count()
    canonical = [c.name.domain_id for c in shown if c.name.is_canonical]
    tokens = proven_tokens(canonical) if canonical else {}
    alerts = []
    for check in shown:
        token = tokens.get(check.name.domain_id) if check.name.is_canonical else None
        expected = domain_records(check.name.name, token=token, policy=policy)
        disable_at = None
        if check.state == NameState.SUSPECT:
            disable_at = disable_earliest_at(Counters.of(check), policy, now)
        alerts.append(NameAlert(check, failing_records(check.evidence, expected), disable_at))
    return alerts, count


def tenant_dns_alerts(tenant: Tenant) -> Alerts:
    """The tenant's suspect domains, the nearest to being disabled first: what fails in
    each, and when it could be disabled; and the failing host names of its domains still
    served. Five queries."""
    suspects = Domain.objects.filter(tenant=tenant, state=DomainState.SUSPECT)
    shown = list(
        suspects.select_related("dns_check")
        .prefetch_related("names")
        .order_by("dns_check__first_negative_at", "did")[:ALERTS_SHOWN]
    )
    count = len(shown) if len(shown) < ALERTS_SHOWN else suspects.count()
    names, names_count = failing_names(tenant)
    return Alerts(domain_rows(shown), count, names, names_count)


@transaction.atomic
def domain_release(*, actor: Actor, domain: Domain) -> DeletionSummary:
    """The tenant gives a domain up: it is deleted with its names, attributes, subscribers
    and user aliases (what went is returned), and the claim that proved it goes too, so
    the name can be claimed afresh. Only a tenant's domain can be released."""
    domain_lock(domain, deleting=True)
    if domain.tenant_id is None:
        raise DomainNotFound(f"domain {domain.did} is no tenant's")
    # The domain first, then its claims: the order of domain_delete's cascade.
    DomainClaim.objects.filter(domain=domain).delete()
    return domain_delete(actor=actor, domain=domain, force=True)
