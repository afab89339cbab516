"""The second factor's code forms: a wrong code spends the same budget as a wrong password
(serweb/auth_throttle.py), since both are guesses from the same address."""

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from django.core.exceptions import ValidationError

from serweb.auth_throttle import refuse_when_spent, spend_or_refuse


class ThrottledCode:
    def clean_code(self) -> str:
        refuse_when_spent(context.request)
        try:
            return super().clean_code()
        except ValidationError as error:
            if error.code == "incorrect_code":
                spend_or_refuse(context.request)
            raise


class CodeForm(ThrottledCode, AuthenticateForm):
    pass


class ReauthenticateCodeForm(ThrottledCode, ReauthenticateForm):
    pass
