"""The domain list's filters, search and ordering, defined once.

``DomainFilter`` is what the API's domain list reads; the operators' domain pages read the
same parameters with the same meaning through ``DomainPageFilter``, which adds what only a
person looking at the list asks for (the DNS verdict, what a proxy has not loaded yet) and
orders by what the page shows.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from domains.models import CheckVerdict, Domain, DomainName, DomainOrigin, DomainState
from domains.names import normalize_host
from proxies.models import Proxy
from proxies.status import pending_on
from serweb.filters import BooleanFilter, FilterSet, OrderingFilter, SearchFilter, search_terms

NEVER_CHECKED = "never"
ANY_PROXY = "any"


def _spellings(term: str) -> set[str]:
    """A word of a search as names are stored: lower case, and its A-label if it is (part
    of) an internationalised name or an IP literal in another spelling."""
    spellings = {term.lower()}
    try:
        spellings.add(normalize_host(term).value)
    except ValidationError:
        pass
    # A spelling that contains another one finds nothing more ("a.b." contains "a.b").
    return {s for s in spellings if not any(t != s and t in s for t in spellings)}


def _containing(field: str, spellings: set[str]) -> Q:
    found = Q()
    for spelling in spellings:
        # Names and dids are stored in lower case: a plain LIKE, no upper() of every row.
        found |= Q(**{f"{field}__contains": spelling})
    return found


def domains_matching(queryset: QuerySet[Domain], text: str) -> QuerySet[Domain]:
    """The domains one of whose names (canonical, alias, IP literal) or whose did contains
    every word of ``text``; each word may match another name."""
    for term in search_terms(text):
        spellings = _spellings(term)
        names = DomainName.objects.filter(_containing("name", spellings)).values("domain_id")
        queryset = queryset.filter(Q(pk__in=names) | _containing("did", spellings))
    return queryset


class DomainFilter(FilterSet):
    search = SearchFilter(method="filter_search")
    state = django_filters.ChoiceFilter(choices=DomainState.choices)
    origin = django_filters.ChoiceFilter(choices=DomainOrigin.choices)
    enabled = BooleanFilter()
    tenant = django_filters.CharFilter(field_name="tenant__name")
    name = django_filters.CharFilter(method="filter_name", help_text="any name of the domain")
    ordering = OrderingFilter(
        fields={field: field for field in ("id", "did", "created_at", "updated_at")},
        default=["id"],
        unique="id",
    )

    class Meta:
        model = Domain
        fields = ["search", "state", "origin", "enabled", "tenant", "name", "ordering"]

    def filter_search(self, queryset: QuerySet[Domain], name: str, value: str) -> QuerySet:
        return domains_matching(queryset, value)

    def filter_name(self, queryset: QuerySet[Domain], name: str, value: str) -> QuerySet:
        try:
            host = normalize_host(value).value
        except ValidationError:
            host = value
        return queryset.filter(pk__in=DomainName.objects.filter(name=host).values("domain_id"))


def _pending_choices() -> list[tuple[str, str]]:
    names = Proxy.objects.filter(enabled=True).order_by("name").values_list("name", flat=True)
    return [(ANY_PROXY, "any proxy"), *((name, name) for name in names)]


# The page's labels, kept off the shared filters: a filter's label is the API's description.
PAGE_LABELS = {
    "search": "Search",
    "state": "State",
    "origin": "Origin",
    "enabled": "Enabled",
    "tenant": "Tenant",
    "name": "Name",
    "verdict": "DNS verdict",
    "pending": "Not loaded by",
    "ordering": "Sort by",
}
# What the page sorts by: columns of the domain itself, so that keyset pages read an index
# range at any depth (the canonical name is the did unless another name was made canonical).
PAGE_ORDERINGS = {
    "did": "domain id",
    "-did": "domain id, Z to A",
    "-created_at": "newest first",
    "created_at": "oldest first",
    "-updated_at": "last changed first",
    "state": "state",
}


class DomainPageFilter(DomainFilter):
    verdict = django_filters.ChoiceFilter(
        choices=[*CheckVerdict.choices, (NEVER_CHECKED, "never checked")],
        method="filter_verdict",
    )
    pending = django_filters.ChoiceFilter(choices=_pending_choices, method="filter_pending")
    ordering = OrderingFilter(
        fields={field: field for field in ("did", "created_at", "updated_at", "state")},
        default=["did"],
        unique="id",
    )

    class Meta(DomainFilter.Meta):
        fields = [*DomainFilter.Meta.fields, "verdict", "pending"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, label in PAGE_LABELS.items():
            self.filters[name].label = label
        for name in ("state", "origin", "verdict"):
            self.filters[name].extra["empty_label"] = "any"
        self.filters["pending"].extra.update(choices=_pending_choices(), empty_label="no matter")
        self.filters["enabled"].extra["widget"] = forms.Select(
            choices=[("", "any"), ("true", "yes"), ("false", "no")]
        )
        self.filters["ordering"].extra["widget"] = forms.Select(
            choices=list(PAGE_ORDERINGS.items())
        )
        self.filters["search"].extra["widget"] = forms.TextInput(attrs={"type": "search"})

    def filter_verdict(self, queryset: QuerySet[Domain], name: str, value: str) -> QuerySet:
        if value == NEVER_CHECKED:
            return queryset.filter(Q(dns_check__isnull=True) | Q(dns_check__verdict=""))
        return queryset.filter(dns_check__verdict=value)

    def filter_pending(self, queryset: QuerySet[Domain], name: str, value: str) -> QuerySet:
        proxies = Proxy.objects.filter(enabled=True)
        if value != ANY_PROXY:
            proxies = proxies.filter(name=value)
        return queryset.filter(pending_on(proxies))
