"""Signing up as a tenant: allauth's form (e-mail, login, password twice) plus the
tenant's name; the account and its tenant are made by one service call."""

from allauth.account.forms import SignupForm
from allauth.account.utils import setup_user_email
from django import forms
from django.db import transaction

from domains.models import Tenant
from domains.signup import tenant_sign_up

# The service's arguments, by the form field that carries each.
SERVICE_FIELDS = {"name": "organisation", "password": "password1"}


class SignUpForm(SignupForm):
    field_order = ["organisation", "email", "username", "password1", "password2"]

    organisation = forms.CharField(
        label="Organisation",
        max_length=Tenant._meta.get_field("name").max_length,
        help_text="Your company's or your own name, as the operators will see it.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )

    @transaction.atomic
    def save(self, request):
        data = self.cleaned_data
        tenant = tenant_sign_up(
            name=data["organisation"],
            username=data["username"],
            email=data["email"],
            password=data["password1"],
        )
        # allauth mails the confirmation link to the address recorded here.
        setup_user_email(request, tenant.owner, [])
        return tenant.owner
