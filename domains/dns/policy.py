"""The DNS policy settings: resolvers, timeouts, what "us" is, the labels, the grace periods
of the lifecycle and the housekeeping schedule, read from serweb/settings.py."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from domains.dns.client import UdpClient
from domains.dns.resolution import parse_nameserver, system_nameservers
from domains.dns.sip import ProxyIdentity


@dataclass(frozen=True)
class DnsPolicy:
    """The DNS settings in one value, so tests and tools can pass their own."""

    nameservers: tuple[tuple[str, int], ...]
    timeout: float
    lifetime: float
    concurrency: int
    authority_port: int
    proxy_hostnames: tuple[str, ...]
    proxy_addresses: tuple[str, ...]
    reserved_suffixes: tuple[str, ...]
    label: str
    allow_partial: bool
    auto_learn: bool
    import_attributes: bool
    negatives_to_disable: int
    negative_spacing: timedelta
    disable_grace: timedelta
    remove_grace: timedelta
    check_interval: timedelta
    housekeeping_every: timedelta
    unknown_alert: int
    canaries: tuple[str, ...]
    breaker_percent: float
    breaker_minimum: int
    chunk_size: int
    # What the proxies offer, TRANSPORT:PORT: the SRV records tenants are told to publish.
    transports: tuple[str, ...] = ("udp:5060", "tcp:5060", "tls:5061")
    # A suspect domain's tenant is warned once its disable could come this soon.
    disable_warning: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls) -> "DnsPolicy":
        configured = settings.SERWEB_DNS_NAMESERVERS
        nameservers = (
            [parse_nameserver(ns) for ns in configured] if configured else system_nameservers()
        )
        return cls(
            nameservers=tuple(nameservers),
            timeout=settings.SERWEB_DNS_TIMEOUT_MS / 1000,
            lifetime=settings.SERWEB_DNS_LIFETIME_MS / 1000,
            concurrency=settings.SERWEB_DNS_CONCURRENCY,
            authority_port=settings.SERWEB_DNS_AUTHORITY_PORT,
            proxy_hostnames=tuple(settings.SERWEB_PROXY_HOSTNAMES),
            proxy_addresses=tuple(settings.SERWEB_PROXY_ADDRESSES),
            reserved_suffixes=tuple(
                s.strip(".").lower() for s in settings.SERWEB_DNS_RESERVED_SUFFIXES
            ),
            label=settings.SERWEB_DNS_LABEL,
            allow_partial=settings.SERWEB_DNS_ALLOW_PARTIAL,
            auto_learn=settings.SERWEB_DNS_AUTO_LEARN,
            import_attributes=settings.SERWEB_DNS_IMPORT_ATTRIBUTES,
            negatives_to_disable=settings.SERWEB_DNS_NEGATIVES_TO_DISABLE,
            negative_spacing=timedelta(hours=settings.SERWEB_DNS_NEGATIVE_SPACING_HOURS),
            disable_grace=timedelta(hours=settings.SERWEB_DNS_DISABLE_GRACE_HOURS),
            remove_grace=timedelta(days=settings.SERWEB_DNS_REMOVE_GRACE_DAYS),
            check_interval=timedelta(hours=settings.SERWEB_DNS_CHECK_INTERVAL_HOURS),
            housekeeping_every=timedelta(minutes=settings.SERWEB_DNS_HOUSEKEEPING_EVERY_MINUTES),
            unknown_alert=settings.SERWEB_DNS_UNKNOWN_ALERT,
            canaries=tuple(settings.SERWEB_DNS_CANARIES),
            breaker_percent=settings.SERWEB_DNS_BREAKER_PERCENT,
            breaker_minimum=settings.SERWEB_DNS_BREAKER_MINIMUM,
            chunk_size=settings.SERWEB_DNS_CHUNK_SIZE,
            transports=tuple(settings.SERWEB_SIP_TRANSPORTS),
            disable_warning=timedelta(hours=settings.SERWEB_DISABLE_WARNING_HOURS),
        )

    @property
    def challenge_label(self) -> str:
        return f"_{self.label}-challenge"

    @property
    def config_label(self) -> str:
        return f"_{self.label}-config"

    @property
    def proxy(self) -> ProxyIdentity:
        return ProxyIdentity.build(self.proxy_hostnames, self.proxy_addresses)

    @property
    def slots(self) -> int:
        """Housekeeping spreads the domains over this many runs per check interval."""
        return max(1, int(self.check_interval / self.housekeeping_every))

    def client(self, nameservers: tuple[tuple[str, int], ...] | None = None) -> UdpClient:
        return UdpClient(
            nameservers or self.nameservers, timeout=self.timeout, lifetime=self.lifetime
        )
