"""The subscriber pages' forms: shapes only. Fields are named like the keyword arguments of
the services they feed, so a service's error lands next to its field (serweb/errors.py)."""

from django import forms

from subscribers.filters import DomainRefField, limit_domains
from subscribers.models import Subscriber, UserAlias, ValidFrom
from subscribers.services import MAX_PASSWORD_LENGTH

USERNAME_LENGTH = Subscriber._meta.get_field("username").max_length
GENERATE_HELP = "Leave it empty and serweb makes one up, shown to you once."


def password_field(**kwargs) -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_PASSWORD_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=GENERATE_HELP,
        **kwargs,
    )


class DomainsForm(forms.Form):
    """A form whose domain fields name only ``domains`` (those of the page's scope)."""

    def __init__(self, *args, domains=None, **kwargs):
        super().__init__(*args, **kwargs)
        limit_domains(self, domains)


class SubscriberAddForm(DomainsForm):
    domain = DomainRefField(required=True, help_text="Any of the domain's names, or its id")
    username = forms.CharField(label="User name", max_length=USERNAME_LENGTH)
    password = password_field()
    email = forms.EmailField(
        label="E-mail", required=False, max_length=Subscriber._meta.get_field("email").max_length
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)


class PasswordForm(forms.Form):
    password = password_field(label="New password")


class EnabledForm(forms.Form):
    enabled = forms.TypedChoiceField(
        choices=[("true", "enable"), ("false", "disable")],
        coerce=lambda value: value == "true",
        widget=forms.HiddenInput,
    )


class ValidFromForm(forms.Form):
    from_user = forms.CharField(
        label="From user name",
        max_length=ValidFrom._meta.get_field("from_user").max_length,
        help_text="A user name this subscriber may put in From, such as a phone number",
    )


class UserAliasForm(DomainsForm):
    username = forms.CharField(
        label="Alias user name",
        max_length=UserAlias._meta.get_field("username").max_length,
        help_text="Calls to this user name reach the subscriber",
    )
    domain = DomainRefField(label="Alias domain", help_text="Empty: the subscriber's own domain")
