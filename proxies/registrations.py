"""Where a subscriber is registered right now, as each proxy's usrloc reports it.

Registrations live in the proxies' memory (usrloc, db_mode 0), not in serweb's database:
every enabled proxy is asked at once, each for at most SERWEB_REGISTRATIONS_TIMEOUT_MS, so
a proxy that is down costs that much once, not once per proxy."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings

from proxies import transport
from proxies.models import Proxy

# Proxies asked at the same time; more wait for a free slot.
_AT_ONCE = 8


@dataclass(frozen=True)
class ProxyRegistrations:
    proxy: str
    contacts: list[transport.Contact] = field(default_factory=list)
    # Why the proxy gave no answer; empty when it answered.
    error: str = ""

    @property
    def answered(self) -> bool:
        return not self.error


def registrations_timeout() -> float:
    return settings.SERWEB_REGISTRATIONS_TIMEOUT_MS / 1000


def registrations_of(aor: str) -> list[ProxyRegistrations]:
    """The contacts each enabled proxy holds for ``aor`` (user@did), by proxy name."""
    proxies = list(
        Proxy.objects.filter(enabled=True)
        .order_by("name")
        .values_list("name", "transport", "address")
    )
    if not proxies:
        return []
    timeout = registrations_timeout()

    def ask(proxy: tuple[str, str, str]) -> ProxyRegistrations:
        name, kind, address = proxy
        try:
            contacts = transport.usrloc_lookup(kind, address, aor, timeout=timeout)
        except transport.ProxyError as exc:
            return ProxyRegistrations(proxy=name, error=str(exc))
        return ProxyRegistrations(proxy=name, contacts=contacts)

    with ThreadPoolExecutor(max_workers=min(_AT_ONCE, len(proxies))) as pool:
        return list(pool.map(ask, proxies))
