"""What the operators' domain pages show, each page in a fixed number of queries however
many domains there are: a page of the list (keyset paging, no COUNT of the table), the
domains a bulk action is about, one domain with everything that belongs to it."""

import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import QueryDict

from api.models import Job
from domains.attributes import KNOWN_ATTRIBUTES
from domains.filters import DomainPageFilter
from domains.models import Domain, DomainAttribute, DomainCheck, DomainName
from domains.selectors import domain_effective_attributes, domain_rows, domains_visible_to
from domains.services import BULK_LIMIT
from portal.dns_panel import DnsPanel, dns_panel
from portal.paging import BadCursor, KeysetPage, keyset_page
from proxies.status import pending_proxies, proxies_loaded_at

PAGE_SIZE = 50
CURSORS = ("after", "before")
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
    page: KeysetPage
    # The filter's parameters without the cursor: what the links to other pages keep.
    query: str

    def _link(self, cursor: str, value: str | None) -> str | None:
        if value is None:
            return None
        return "?" + "&".join(part for part in (self.query, urlencode({cursor: value})) if part)

    @property
    def next_link(self) -> str | None:
        return self._link("after", self.page.next_cursor)

    @property
    def previous_link(self) -> str | None:
        return self._link("before", self.page.previous_cursor)

    @property
    def first_link(self) -> str:
        return "?" + self.query


def domain_filters(actor, params: QueryDict) -> DomainPageFilter:
    return DomainPageFilter(params, queryset=domain_rows(domains_visible_to(actor)))


def _without_cursor(params: QueryDict) -> str:
    kept = params.copy()
    for name in CURSORS:
        kept.pop(name, None)
    return kept.urlencode()


def domain_list_page(actor, params: QueryDict, *, size: int | None = None) -> DomainListPage:
    size = size or PAGE_SIZE
    filters = domain_filters(actor, params)
    try:
        page = keyset_page(
            filters.qs, size=size, after=params.get("after"), before=params.get("before")
        )
    except BadCursor:  # a link this list never gave: its first page
        page = keyset_page(filters.qs, size=size)
    loaded = proxies_loaded_at()
    return DomainListPage(
        filters=filters,
        rows=[DomainRow(domain, pending_proxies(domain, loaded)) for domain in page.rows],
        page=page,
        query=_without_cursor(params),
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
    rows = list(found.order_by("listed_name", "pk").values_list("pk", "did")[: BULK_LIMIT + 1])
    ids = [pk for pk, _did in rows]
    shown = list(domain_rows(Domain.objects.filter(pk__in=ids[:BULK_NAMES_SHOWN])))
    shown.sort(key=lambda domain: domain.listed_name or domain.did)
    digest = hashlib.sha256(" ".join(did for _pk, did in sorted(rows)).encode()).hexdigest()
    return BulkTargets(filters, ids, len(ids), shown, digest[:32])


@dataclass(frozen=True)
class DomainPage:
    domain: Domain
    names: list[DomainName]
    canonical: DomainName | None
    attributes: list[DomainAttribute]
    effective: set[int]  # the ids of the attribute rows in force
    known_attributes: list[str]
    subscribers: int
    pending: list[str]
    dns: DnsPanel
    job: Job | None = None


def domain_page(domain: Domain, *, job: Job | None = None) -> DomainPage:
    names = list(domain.names.order_by("-is_canonical", "name"))
    attributes = list(domain.attributes.order_by("name", "source"))
    effective = domain_effective_attributes(domain)
    check = DomainCheck.objects.filter(domain=domain).first()
    canonical = next((name for name in names if name.is_canonical), None)
    return DomainPage(
        domain=domain,
        names=names,
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
