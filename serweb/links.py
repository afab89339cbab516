"""Links to the portal in what serweb sends without a request to take its address from."""

from django.conf import settings
from django.urls import reverse


def public_url(view: str, *args: object) -> str:
    """The address of ``view`` (a URL name) at SERWEB_PUBLIC_URL; empty when it is not set."""
    base = settings.SERWEB_PUBLIC_URL
    if not base:
        return ""
    return base.rstrip("/") + reverse(view, args=args)
