"""How allauth signs people in to the portal: nobody signs up yet (operators create tenants
and their logins with `tenant add`), and failed passwords spend the client address's budget
(serweb/auth_throttle.py) before allauth's own checks, which are off for sign-ins."""

from allauth.account.adapter import DefaultAccountAdapter

from serweb.auth_throttle import refuse_when_spent, spend_or_refuse


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False

    def pre_authenticate(self, request, **credentials) -> None:
        # Sign-ins and reauthentications alike; a spent budget checks no password.
        refuse_when_spent(request)
        super().pre_authenticate(request, **credentials)

    def authentication_failed(self, request, **credentials) -> None:
        spend_or_refuse(request)
