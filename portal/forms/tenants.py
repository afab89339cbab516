"""The tenant forms: shapes only; the rules (names free, valid logins and passwords) are
the services' and land on the fields of the same names."""

from django import forms

from domains.models import Tenant

NAME_LENGTH = Tenant._meta.get_field("name").max_length


class TenantSearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=150, required=False)


class TenantForm(forms.Form):
    name = forms.CharField(max_length=NAME_LENGTH)
    email = forms.EmailField(
        label="Owner's e-mail",
        required=False,
        help_text="Where a password reset is sent.",
    )


class TenantEditForm(TenantForm):
    domain_quota = forms.IntegerField(
        label="Domains it may hold",
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text="Its domains and its claims still waiting for DNS proof, together; "
        "empty: as it is.",
    )
    pending_claim_limit = forms.IntegerField(
        label="Claims waiting at once",
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text="Claims of names whose TXT record serweb has not seen yet; empty: as it is.",
    )


def password_field(**options) -> forms.CharField:
    """A new password, typed as it is (Django's validators judge it in the service)."""
    widget = forms.PasswordInput(attrs={"autocomplete": "new-password"})
    return forms.CharField(strip=False, widget=widget, **options)


class TenantCreateForm(TenantForm):
    owner = forms.CharField(
        label="Owner's login",
        max_length=150,
        help_text="A new account: the tenant's owner signs in with it.",
    )
    password = password_field(
        label="Owner's password",
        required=False,
        help_text="Optional: without one, the owner cannot sign in until it chooses one "
        "(the invitation) or an operator sets one.",
    )
    invite = forms.BooleanField(
        label="Mail the owner an invitation to choose its password",
        required=False,
        initial=True,
    )
    field_order = ["name", "owner", "email", "password", "invite"]

    def clean(self):
        data = super().clean()
        if data.get("invite") and not data.get("email") and "email" not in self.errors:
            self.add_error("email", "An invitation needs the owner's e-mail address.")
        return data


class TenantPasswordForm(forms.Form):
    password = password_field(label="New password")


class TenantActiveForm(forms.Form):
    domains = forms.BooleanField(required=False)


class DomainTransferForm(forms.Form):
    domain = forms.CharField(
        max_length=255,
        help_text="Any of its names (canonical, alias, IP literal) or its did.",
    )
    tenant = forms.CharField(
        label="New tenant",
        max_length=NAME_LENGTH,
        required=False,
        help_text="The tenant's name or its owner's login; empty: the domain belongs to no tenant.",
    )
