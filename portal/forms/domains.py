"""The operators' domain forms. They check shape only (lengths, choices, a list of names);
every rule is the services'. Fields are named like the keyword arguments of the service
each form feeds, so a service's error lands next to its field (serweb/errors.py)."""

import re

from django import forms

from domains.models import Tenant

# Wide enough for any name a person types in Unicode; the services refuse what does not
# fit the proxy's columns once it is an A-label.
NAME_INPUT_LENGTH = 255
NAMES_INPUT_LENGTH = 4000


def split_names(text: str) -> list[str]:
    return [name for name in re.split(r"[\s,]+", text or "") if name]


class TenantChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(
            queryset=Tenant.objects.order_by("name"),
            required=False,
            empty_label="no tenant (the operators' own)",
            **kwargs,
        )


class DomainCreateForm(forms.Form):
    name = forms.CharField(
        label="Canonical name",
        max_length=NAME_INPUT_LENGTH,
        help_text="A host name, in Unicode or A-labels; it is the domain id unless one is given.",
    )
    aliases = forms.CharField(
        label="Other names",
        required=False,
        max_length=NAMES_INPUT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Aliases and IP literals, separated by spaces or new lines.",
    )
    did = forms.CharField(
        label="Domain id",
        required=False,
        max_length=NAME_INPUT_LENGTH,
        help_text="Only to choose one other than the canonical name; it never changes.",
    )
    tenant = TenantChoiceField()
    enabled = forms.BooleanField(label="Serve it now", required=False, initial=True)

    def clean_aliases(self) -> list[str]:
        return split_names(self.cleaned_data["aliases"])


class NameForm(forms.Form):
    name = forms.CharField(
        label="Alias or IP literal",
        max_length=NAME_INPUT_LENGTH,
        help_text="A host name, an IPv4 address or an IPv6 address in brackets.",
    )


class NameChoiceForm(forms.Form):
    """Which of the domain's names an action is about."""

    name = forms.CharField(max_length=NAME_INPUT_LENGTH)


class NameExemptForm(NameChoiceForm):
    """Exempt one of the domain's names from DNS housekeeping (true), or put it back."""

    exempt = forms.BooleanField(required=False, widget=forms.HiddenInput)


AS_INT_CHOICES = [("", "as the attribute is known"), ("integer", "integer"), ("string", "string")]


class AttributeForm(forms.Form):
    name = forms.CharField(
        label="Attribute",
        max_length=32,
        widget=forms.TextInput(attrs={"list": "known-attributes", "autocomplete": "off"}),
    )
    value = forms.CharField(label="Value", max_length=255, strip=False)
    as_int = forms.TypedChoiceField(
        label="Type",
        choices=AS_INT_CHOICES,
        required=False,
        coerce=lambda choice: choice == "integer",
        empty_value=None,
        help_text="Only for an attribute serweb does not know.",
    )
    accept_password_reset = forms.BooleanField(
        label="The subscribers whose stored passwords a new realm invalidates must set new ones",
        required=False,
    )


class AttributeUnsetForm(forms.Form):
    name = forms.CharField(max_length=32)
    accept_password_reset = forms.BooleanField(required=False)


class TenantForm(forms.Form):
    tenant = TenantChoiceField(label="Tenant")


class DeleteForm(forms.Form):
    """The confirmation of a deletion; ``force`` is asked only when subscribers would go."""

    force = forms.BooleanField(required=False)
