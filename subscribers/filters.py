"""The query parameters of the subscriber lists: one FilterSet for a domain's list in the
API, and the same with a search across domains for the operators' page."""

from dataclasses import dataclass

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from domains.names import MAX_NAME_LENGTH
from domains.selectors import domain_refs_by_names
from serweb.filters import BooleanFilter, FilterSet
from subscribers.models import Subscriber

# A user part, "@" and a name, with room for a "sip:" in front.
MAX_QUERY_LENGTH = 2 * MAX_NAME_LENGTH + 5


class SubscriberFilter(FilterSet):
    enabled = BooleanFilter()

    class Meta:
        model = Subscriber
        fields = ["enabled"]


def _domain_id(name: str, domains: QuerySet | None = None) -> int:
    """The id of the domain ``name`` names; among ``domains`` only, when given (a tenant's):
    another's domain is one that does not exist."""
    ref = domain_refs_by_names([name])[name]
    if ref is None or (domains is not None and not domains.filter(pk=ref[0]).exists()):
        raise ValidationError(f"no domain is named {name}")
    return ref[0]


class DomainRefField(forms.CharField):
    """Any name of a domain (canonical, alias, IP literal) or its did, as the domain's id;
    ``domains``: the domains it may name (all of them when None)."""

    def __init__(self, *, required: bool = False, **kwargs):
        super().__init__(max_length=MAX_NAME_LENGTH, required=required, **kwargs)
        self.domains: QuerySet | None = None

    def clean(self, value) -> int | None:
        text = super().clean(value)
        return _domain_id(text, self.domains) if text else None


def limit_domains(form: forms.BaseForm, domains: QuerySet | None) -> None:
    """Let the form's domain fields name only ``domains``."""
    for field in form.fields.values():
        if isinstance(field, (DomainRefField, SubscriberQueryField)):
            field.domains = domains


class DomainRefFilter(django_filters.Filter):
    field_class = DomainRefField

    def filter(self, qs: QuerySet, value: int | None) -> QuerySet:
        return qs if value is None else qs.filter(domain_id=value)


@dataclass(frozen=True)
class SubscriberQuery:
    username: str  # empty: any
    exact: bool  # the whole user name, or its start
    domain_id: int | None


class SubscriberQueryField(forms.CharField):
    """``user@domain`` (that address; the domain by any of its names), ``@domain`` (its
    subscribers) or the start of a user name (in every domain)."""

    def __init__(self, *, required: bool = False, **kwargs):
        super().__init__(max_length=MAX_QUERY_LENGTH, required=required, **kwargs)
        self.domains: QuerySet | None = None

    def clean(self, value) -> SubscriberQuery | None:
        text = super().clean(value)
        if not text:
            return None
        if text[:4].lower() == "sip:":
            text = text[4:]
        user, at, host = text.rpartition("@")
        if not at:
            return SubscriberQuery(username=text, exact=False, domain_id=None)
        if not host:
            raise ValidationError("give a domain after the @")
        return SubscriberQuery(username=user, exact=True, domain_id=_domain_id(host, self.domains))


class SubscriberQueryFilter(django_filters.Filter):
    field_class = SubscriberQueryField

    def filter(self, qs: QuerySet, value: SubscriberQuery | None) -> QuerySet:
        if value is None:
            return qs
        if value.domain_id is not None:
            qs = qs.filter(domain_id=value.domain_id)
        if value.exact and value.username:
            return qs.filter(username=value.username)
        if value.username:
            return qs.filter(username__startswith=value.username)
        return qs


class SubscriberSearch(SubscriberFilter):
    """Subscribers across domains: of every domain for operators, of ``domains`` (a
    tenant's) when given."""

    def __init__(self, *args, domains: QuerySet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.domains = domains

    @property
    def form(self):
        form = super().form
        limit_domains(form, self.domains)
        return form

    q = SubscriberQueryFilter(
        label="Search",
        widget=forms.SearchInput,
        help_text="The start of a user name, user@domain, or @domain for a domain's subscribers",
    )
    domain = DomainRefFilter(label="Domain", help_text="Any of its names, or its domain id")
    enabled = BooleanFilter(
        label="Enabled",
        widget=forms.Select(choices=[("", "Enabled or not"), ("true", "Yes"), ("false", "No")]),
    )

    class Meta(SubscriberFilter.Meta):
        fields = ["q", "domain", "enabled"]
