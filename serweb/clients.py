"""Who may ask: a client address checked against a list of addresses and networks."""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=16)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowed)


def address_allowed(address: str, allowed: list[str] | tuple[str, ...]) -> bool:
    """Whether ``address`` (the peer's, as REMOTE_ADDR has it) is in one of ``allowed``."""
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    if client.version == 6 and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return any(client in network for network in _networks(tuple(allowed)))


def client_ip(request) -> str:
    """The client's address: the peer's, or, behind SERWEB_HTTP_PROXIES trusted reverse
    proxies, the one the last of them put in X-Forwarded-For (what a client writes there
    itself comes before, and is not believed)."""
    trusted = settings.SERWEB_HTTP_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not trusted or not forwarded:
        return request.META.get("REMOTE_ADDR", "")
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(trusted, len(hops))]
