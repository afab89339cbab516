"""The proxies' negative cache of the on-demand lookup: the reference configuration
(WITH_LOOKUP) remembers a host serweb answered "not ours" in the hash table
SERWEB_PROXY_NEGATIVE_HTABLE for the answer's ttl, and asks serweb again only after it.

A name in the proxy's domain tables is never looked up, so a stale entry cannot refuse a
name once the proxy serves it. It could in between: a new domain is answered by the
lookup while the proxy's reload waits for a quiet moment, fails or finds no room. So at
the start of each catch-up, before the tables are touched, the served names of the
domains it brings in lose their entries (``htable.delete``; a name that has none costs
the same RPC and is no failure). As many names as the catch-up probes
(SERWEB_PROBE_NAMES, the newest changes): a bulk import's other names are served by the
reload that follows, and their entries expire with their TTL.
"""

import logging
from collections.abc import Iterable

from django.conf import settings

from domains.models import Domain
from proxies import transport
from proxies.config import config
from proxies.models import Proxy
from proxies.probes import names_served_as

logger = logging.getLogger("serweb.reload")


def negative_htable_name() -> str:
    """The name of that hash table in the proxies' configuration; empty: none."""
    return settings.SERWEB_PROXY_NEGATIVE_HTABLE


def served_names(domains: Iterable[Domain]) -> list[str]:
    """The names of ``domains`` the proxy must serve now."""
    return [name for name, did in names_served_as(domains) if did is not None]


def negatives_forget(proxy: Proxy, names: Iterable[str]) -> int:
    """Delete ``names`` from the proxy's negative cache. Returns how many it held. Never
    raises: an entry left behind expires with its TTL, and a proxy that does not answer
    is the reload's to report."""
    table = negative_htable_name()
    if not table:
        return 0
    timeout = config().rpc_timeout
    held = 0
    for name in names:
        try:
            held += transport.htable_delete(
                proxy.transport, proxy.address, table, name, timeout=timeout
            )
        except transport.ProxyError as exc:
            logger.warning(
                "proxy %s: the lookup's negative cache %r kept %s: %s", proxy.name, table, name, exc
            )
            break
    return held
