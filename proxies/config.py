"""The reload pipeline's settings (serweb/settings.py), read at each use so that a changed
setting (a test's override) takes effect at once."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ReloadConfig:
    rpc_timeout: float
    reload_timeout: float
    claim_ttl: float
    quiet: float
    max_wait: float
    retry_base: float
    retry_max: float
    probe_timeout: float
    probe_names: int
    shm_reserve: int
    shm_safety: float
    incremental_max: int


def config() -> ReloadConfig:
    return ReloadConfig(
        rpc_timeout=float(settings.SERWEB_PROXY_RPC_TIMEOUT),
        reload_timeout=float(settings.SERWEB_RELOAD_TIMEOUT),
        claim_ttl=float(settings.SERWEB_RELOAD_CLAIM_TTL),
        quiet=float(settings.SERWEB_RELOAD_QUIET),
        max_wait=float(settings.SERWEB_RELOAD_MAX_WAIT),
        retry_base=float(settings.SERWEB_RELOAD_RETRY_BASE),
        retry_max=float(settings.SERWEB_RELOAD_RETRY_MAX),
        probe_timeout=float(settings.SERWEB_PROBE_TIMEOUT),
        probe_names=int(settings.SERWEB_PROBE_NAMES),
        shm_reserve=int(settings.SERWEB_PROXY_SHM_RESERVE),
        shm_safety=float(settings.SERWEB_PROXY_SHM_SAFETY),
        incremental_max=int(settings.SERWEB_PROXY_INCREMENTAL_MAX),
    )


def index_in_htable() -> bool:
    """The proxies' domain index is a hash table of module htable, updated change by
    change (SERWEB_PROXY_DOMAINS=htable)."""
    return settings.SERWEB_PROXY_DOMAINS == "htable"


def attributes_in_htable() -> bool:
    """The proxies load per-domain attributes with module htable (SERWEB_PROXY_ATTRIBUTES,
    and always in the htable index mode)."""
    return settings.SERWEB_PROXY_ATTRIBUTES == "htable" or index_in_htable()


def htable_name() -> str:
    """The name of that hash table in the proxies' configuration (SERWEB_PROXY_HTABLE)."""
    return settings.SERWEB_PROXY_HTABLE


def names_htable_name() -> str:
    """The name of the hash table of names in that mode (SERWEB_PROXY_DOMAINS_HTABLE)."""
    return settings.SERWEB_PROXY_DOMAINS_HTABLE
