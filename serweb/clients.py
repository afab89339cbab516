"""Who may ask: a client address checked against a list of addresses and networks."""

import ipaddress
from functools import lru_cache


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
