"""The forms of a tenant's own pages: shapes only; fields are named like the keyword
arguments of the services they feed, so a service's refusal lands next to its field."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef

from api.models import ApiToken
from domains.api import DomainFilter
from domains.attributes import KNOWN_ATTRIBUTES
from domains.models import DomainAttribute, DomainClaim, DomainName


class ClaimForm(forms.Form):
    name = forms.CharField(
        label="Domain name",
        max_length=DomainClaim._meta.get_field("name").max_length,
        help_text="A domain of yours, such as voice.example.com; Unicode names are fine.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class AttributeForm(forms.Form):
    name = forms.ChoiceField(
        label="Attribute",
        choices=[(name, name) for name in sorted(KNOWN_ATTRIBUTES)],
    )
    value = forms.CharField(
        label="Value", max_length=DomainAttribute._meta.get_field("value").max_length
    )
    accept_password_reset = forms.BooleanField(
        label="My subscribers may have to set new passwords",
        required=False,
        help_text="Needed to change the realm when stored passwords cannot be rehashed.",
    )


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What uses it, such as billing-sync",
    )


class TenantDomainFilter(DomainFilter):
    """The tenant's domain list: the API's filter (state) and the start of any name.

    Only the parameters a tenant's list needs; the rest of DomainFilter's (origin,
    enabled, tenant) are left out of its form."""

    q = django_filters.CharFilter(
        label="Name starts with", method="name_starts", widget=forms.SearchInput
    )

    class Meta(DomainFilter.Meta):
        fields = ["q", "state"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for unused in ("origin", "enabled", "tenant", "name"):
            self.filters.pop(unused, None)
        self.filters["state"].extra["empty_label"] = "Any state"

    def name_starts(self, queryset, _name, value):
        names = DomainName.objects.filter(domain=OuterRef("pk"), name__startswith=value.lower())
        return queryset.filter(Exists(names))
