"""The reload pipeline's settings, read at each use (tests and ``settings`` overrides change
them at run time)."""

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


def config() -> ReloadConfig:
    def value(name: str, default: float) -> float:
        return float(getattr(settings, name, default))

    reload_timeout = value("SERWEB_RELOAD_TIMEOUT", 10.0)
    return ReloadConfig(
        rpc_timeout=value("SERWEB_PROXY_RPC_TIMEOUT", 3.0),
        reload_timeout=reload_timeout,
        claim_ttl=value("SERWEB_RELOAD_CLAIM_TTL", reload_timeout + 50.0),
        quiet=value("SERWEB_RELOAD_QUIET", 0.5),
        max_wait=value("SERWEB_RELOAD_MAX_WAIT", 10.0),
        retry_base=value("SERWEB_RELOAD_RETRY_BASE", 1.0),
        retry_max=value("SERWEB_RELOAD_RETRY_MAX", 30.0),
        probe_timeout=value("SERWEB_PROBE_TIMEOUT", 2.0),
        probe_names=int(value("SERWEB_PROBE_NAMES", 5)),
        shm_reserve=int(value("SERWEB_PROXY_SHM_RESERVE", 4 * 1024 * 1024)),
        shm_safety=value("SERWEB_PROXY_SHM_SAFETY", 1.25),
    )


def attributes_in_htable() -> bool:
    """The proxies load per-domain attributes with module htable (SERWEB_PROXY_ATTRIBUTES)."""
    return getattr(settings, "SERWEB_PROXY_ATTRIBUTES", "domain_attrs") == "htable"
