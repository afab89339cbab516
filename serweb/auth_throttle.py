"""Guessing is slow: failed sign-ins and failed token authentications are counted per client
address, and once an address has spent its budget (SERWEB_AUTH_FAILURE_LIMIT failures in a
window of SERWEB_AUTH_FAILURE_WINDOW seconds) it is refused until the window ends, without
even checking what it sent, so a right guess cannot be told from a wrong one.

The counts live in the default cache: with CACHE_URL (Redis) every worker process shares
them; without it each process counts alone (serweb/checks.py warns about that).

A sign-in calls ``refuse_when_spent`` before it checks what was sent and
``spend_or_refuse`` after a failure, as the portal's account adapter and second-factor
form do (portal/adapters.py, portal/forms/auth.py); an API authenticator calls
``retry_after`` and ``spend`` itself and answers 429 (api/authentication.py).
"""

import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.throttling import BaseThrottle


def clock() -> float:
    return time.time()


def client_address(request) -> str:
    """Who sent ``request``, as the budget counts it: the peer address, or the one the
    trusted reverse proxies (SERWEB_HTTP_PROXIES) name; IPv6 by /64, since anyone with
    one address has the whole /64."""
    address = BaseThrottle().get_ident(request)  # honours NUM_PROXIES as the API does
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


@dataclass(frozen=True)
class FailureBudget:
    """So many failures per client address per fixed window of time, counted in the cache
    (``incr`` is atomic in Redis and in the per-process cache alike)."""

    scope: str

    @property
    def limit(self) -> int:
        return settings.SERWEB_AUTH_FAILURE_LIMIT

    @property
    def window(self) -> int:
        return settings.SERWEB_AUTH_FAILURE_WINDOW

    def _window(self) -> tuple[str, float]:
        now = clock()
        number = int(now // self.window)
        return str(number), (number + 1) * self.window - now

    def _key(self, request, number: str) -> str:
        return f"auth-failures:{self.scope}:{client_address(request)}:{number}"

    def retry_after(self, request) -> int:
        """Seconds until the address may try again; 0 while it has budget left."""
        number, left = self._window()
        if cache.get(self._key(request, number), 0) < self.limit:
            return 0
        return max(1, math.ceil(left))

    def spend(self, request) -> int:
        """Count one failure; like ``retry_after`` for what comes next, except that the
        failures within budget still get their own answer (0)."""
        number, left = self._window()
        key = self._key(request, number)
        timeout = math.ceil(left) + 1
        if cache.add(key, 1, timeout=timeout):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=timeout)
                count = 1
        return 0 if count <= self.limit else max(1, math.ceil(left))


TOKEN_FAILURES = FailureBudget("token")
# Passwords and second-factor codes share one budget: the portal's sign-in is the only one
# (the admin sends people there).
LOGIN_FAILURES = FailureBudget("login")


def throttled_message(seconds: int) -> str:
    return f"Too many failed attempts from your address. Try again in {seconds} seconds."


def refuse_when_spent(request, budget: FailureBudget = LOGIN_FAILURES) -> None:
    """Refuse (a form error) an address that has spent its budget, before anything it sent
    is checked: a right guess must look like a wrong one."""
    wait = budget.retry_after(request)
    if wait:
        raise ValidationError(throttled_message(wait), code="throttled")


def spend_or_refuse(request, budget: FailureBudget = LOGIN_FAILURES) -> None:
    """Count one failure; the one that spends the budget is refused with the wait."""
    wait = budget.spend(request)
    if wait:
        raise ValidationError(throttled_message(wait), code="throttled")
