"""What the operators' domain pages show, each page in a fixed number of queries however
many domains there are: a page of the list (keyset paging, no COUNT of the table), the
domains a bulk action is about, one domain with everything that belongs to it."""

import hashlib
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

from api.models import Job
from domains.attributes import KNOWN_ATTRIBUTES
from domains.bulk_actions import BULK_LIMIT
from domains.filters import DomainPageFilter
from domains.models import Domain, DomainAttribute, DomainCheck, DomainName, NameCheck, NameState
from domains.selectors import domain_effective_attributes, domain_rows, domains_visible_to
from portal.dns_panel import DnsPanel, dns_panel
from portal.paging import Page, keyset_page, query_with
from proxies.status import pending_proxies, proxies_loaded_at

PAGE_SIZE = 50
# The names of the domains a bulk action's confirmation lists; the rest are counted.
BULK_NAMES_SHOWN = 20


@dataclass(frozen=True)
class DomainRow:
    domain: Domain
    pending: list[str]  # the enabled proxies that have not loaded its latest change


@dataclass(frozen=True)
class DomainListPage:
    filters: DomainPageFilter
    rows: list[DomainRow]
    page: Page
    # The filter's parameters without the cursor: what a bulk action re-applies.
    query: str


def domain_filters(actor, params: QueryDict) -> DomainPageFilter:
    return DomainPageFilter(params, queryset=domain_rows(domains_visible_to(actor)))


def domain_list_page(actor, params: QueryDict, *, size: int | None = None) -> DomainListPage:
    """A page of the list the parameters ask for: filtered, searched, sorted, and from
    its cursor on (keyset_page: one query however deep)."""
    filters = domain_filters(actor, params)
    ordering = filters.filters["ordering"].order_by(
        getattr(filters.form, "cleaned_data", {}).get("ordering") if filters.is_valid() else None
    )
    asked = HttpRequest()
    asked.GET = params
    page = keyset_page(filters.qs, asked, ordering=ordering, size=size or PAGE_SIZE)
    loaded = proxies_loaded_at()
    return DomainListPage(
        filters=filters,
        rows=[DomainRow(domain, pending_proxies(domain, loaded)) for domain in page.items],
        page=page,
        query=query_with(params)[1:],
    )


@dataclass(frozen=True)
class BulkTargets:
    """The domains a bulk action is about, as the filter finds them now."""

    filters: DomainPageFilter
    ids: list[int]
    count: int
    shown: list[Domain]
    # Changes when the domains change: a confirmation is for the list it was shown.
    fingerprint: str

    @property
    def more(self) -> int:
        return self.count - len(self.shown)


def bulk_targets(actor, *, query: str, every: bool, dids: list[str]) -> BulkTargets:
    """The domains the filter of ``query`` finds: all of them (``every``, at most one more
    than a bulk action takes, so that too many can be refused) or those of ``dids``."""
    filters = domain_filters(actor, QueryDict(query))
    found: QuerySet[Domain] = filters.qs if every else filters.qs.filter(did__in=dids)
    rows = list(found.order_by("did").values_list("pk", "did")[: BULK_LIMIT + 1])
    ids = [pk for pk, _did in rows]
    shown = list(domain_rows(Domain.objects.filter(pk__in=ids[:BULK_NAMES_SHOWN])))
    shown.sort(key=lambda domain: domain.did)
    digest = hashlib.sha256(" ".join(did for _pk, did in sorted(rows)).encode()).hexdigest()
    return BulkTargets(filters, ids, len(ids), shown, digest[:32])


@dataclass(frozen=True)
class NameRow:
    """One name of a domain's page with where it stands in DNS housekeeping."""

    name: DomainName
    check: NameCheck | None

    @property
    def state(self) -> str:
        return self.name.dns_state

    @property
    def exempt(self) -> bool:
        return self.check is not None and self.check.exempt

    @property
    def checked(self) -> bool:
        return self.check is not None and self.check.checked_at is not None

    @property
    def state_label(self) -> str:
        return NameState(self.state).label


@dataclass(frozen=True)
class DomainPage:
    domain: Domain
    names: list[NameRow]
    canonical: DomainName | None
    attributes: list[DomainAttribute]
    effective: set[int]  # the ids of the attribute rows in force
    known_attributes: list[str]
    subscribers: int
    pending: list[str]
    dns: DnsPanel
    job: Job | None = None


def domain_page(domain: Domain, *, job: Job | None = None) -> DomainPage:
    # Each name with its check row in the one query: no query per name.
    names = list(domain.names.select_related("dns_check").order_by("-is_canonical", "name"))
    attributes = list(domain.attributes.order_by("name", "source"))
    effective = domain_effective_attributes(domain)
    check = DomainCheck.objects.filter(domain=domain).first()
    canonical = next((name for name in names if name.is_canonical), None)
    return DomainPage(
        domain=domain,
        names=[NameRow(name, getattr(name, "dns_check", None)) for name in names],
        canonical=canonical,
        attributes=attributes,
        effective={attribute.pk for attribute in effective.values()},
        known_attributes=sorted(KNOWN_ATTRIBUTES),
        subscribers=domain.subscribers.count(),
        pending=pending_proxies(domain, proxies_loaded_at()),
        dns=dns_panel(domain, check, canonical),
        job=job,
    )


def verify_job(domain: Domain, job_id: int) -> Job | None:
    """The domain's verification job of that id."""
    return Job.objects.filter(pk=job_id, kind=Job.Kind.VERIFY_DOMAIN, target_id=domain.pk).first()
