"""The audit trail's filters: the API's (``AuditFilter``) and the audit log page's
(``AuditLogFilter``), which share the did and actor filters. Each filter a page
offers has an index that starts with its column (audit.models)."""

import django_filters
from django.core.exceptions import ValidationError

from audit.models import AuditEntry, Channel
from domains.models import Domain
from domains.names import normalize_host
from serweb.filters import FilterSet, UUIDFilter


def stored_name(value: str) -> str:
    """A name as the trail stores it: a host name in A-labels, lower case; what is no host
    name (a did of its own spelling, a login) as given, in lower case."""
    try:
        return normalize_host(value).value
    except ValidationError:
        return value.strip().lower()


def object_spellings(value: str) -> list[str]:
    """The ways an object may be named in an entry: as typed, and with its domain (all of
    it, or after the '@' of a user) as stored."""
    text = value.strip()
    user, at, host = text.rpartition("@")
    return list(dict.fromkeys([text, f"{user}{at}{stored_name(host)}" if host else text]))


class _TrailFilter(FilterSet):
    did = django_filters.CharFilter(
        method="filter_did", help_text="the did at the time, of any domain that held it"
    )
    # On the name as shown, so a tenant cannot find an operator's login by filtering.
    actor_name = django_filters.CharFilter(field_name="shown_actor")

    def filter_did(self, queryset, name, value):
        return queryset.filter(did=stored_name(value))


GROUP_HELP = (
    "the entries of one run: a request (its X-Request-Id answer header), a command, a job or a task"
)


class AuditFilter(_TrailFilter):
    domain = django_filters.CharFilter(
        method="filter_domain", help_text="the history of the domain that holds this did now"
    )
    group = UUIDFilter(help_text=GROUP_HELP)

    class Meta:
        model = AuditEntry
        fields = ["action", "object_type", "did", "channel", "actor_name", "domain", "group"]

    def filter_domain(self, queryset, name, value):
        return queryset.filter(domain_id__in=Domain.objects.filter(did=value).values("pk"))


class AuditLogFilter(_TrailFilter):
    # A form sends its empty fields: empty is no filter.
    group = django_filters.UUIDFilter()
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="any")
    object = django_filters.CharFilter(method="filter_object")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = AuditEntry
        fields = [
            "actor_name",
            "channel",
            "object_type",
            "object",
            "did",
            "action",
            "since",
            "until",
            "group",
        ]

    def filter_object(self, queryset, name, value):
        spellings = object_spellings(value)
        # One spelling (most often) is an equality the index pages in order.
        if len(spellings) == 1:
            return queryset.filter(object_repr=spellings[0])
        return queryset.filter(object_repr__in=spellings)
