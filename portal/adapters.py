"""How allauth signs people in to the portal: tenants sign up unless the operators closed
it (SERWEB_TENANT_SIGNUP), a confirmed address confirms the tenant it owns, and failed
passwords spend the client address's budget (serweb/auth_throttle.py) before allauth's own
checks, which are off for sign-ins."""

from allauth.account.adapter import DefaultAccountAdapter

from domains.models import Tenant
from domains.signup import signup_open, tenant_confirm
from serweb.auth_throttle import refuse_when_spent, spend_or_refuse


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return signup_open()

    def confirm_email(self, request, email_address) -> bool:
        confirmed = super().confirm_email(request, email_address)
        tenant = Tenant.objects.filter(owner_id=email_address.user_id).first()
        if confirmed and tenant is not None:
            tenant_confirm(tenant=tenant)
        return confirmed

    def pre_authenticate(self, request, **credentials) -> None:
        # Sign-ins and reauthentications alike; a spent budget checks no password.
        refuse_when_spent(request)
        super().pre_authenticate(request, **credentials)

    def authentication_failed(self, request, **credentials) -> None:
        spend_or_refuse(request)
