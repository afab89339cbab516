from allauth.account.views import SignupView
from django.core.exceptions import ValidationError

from portal.forms.signup import SERVICE_FIELDS
from serweb.errors import add_to_form


class SignUpView(SignupView):
    """allauth's sign-up, with the service's refusals (a name taken meanwhile) next to
    their fields instead of an error page."""

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationError as exc:
            add_to_form(form, exc, fields=SERVICE_FIELDS)
            return self.form_invalid(form)


sign_up = SignUpView.as_view()
