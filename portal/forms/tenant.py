"""The forms of a tenant's own pages: shapes only; fields are named like the keyword
arguments of the services they feed, so a service's refusal lands next to its field."""

from django import forms

from api.models import ApiToken
from domains.api import DomainFilter
from domains.attributes import KNOWN_ATTRIBUTES
from domains.models import DomainAttribute, DomainClaim


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
    """The tenant's domain list: the API's search (any part of any of a domain's names, in
    Unicode too) and state. The rest of DomainFilter's parameters (origin, enabled, tenant,
    name, ordering) are not the tenant's list's."""

    class Meta(DomainFilter.Meta):
        fields = ["search", "state"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for unused in ("origin", "enabled", "tenant", "name", "ordering"):
            self.filters.pop(unused, None)
        self.filters["search"].label = "Search"
        self.filters["search"].extra["widget"] = forms.SearchInput
        self.filters["state"].extra["empty_label"] = "Any state"
