"""What each proxy serves and what still waits for it: reads for the status command,
the API and the notes shown after a change."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from domains.models import Domain
from proxies.generation import desired_state
from proxies.models import Proxy


@dataclass(frozen=True)
class ProxyStatus:
    id: int
    name: str
    transport: str
    address: str
    state: str  # live, pending, reloading, failing, no room, disabled
    applied_generation: int
    desired_generation: int
    pending_dids: list[str]
    pending_count: int
    reload_count: int
    update_count: int
    failures: int
    last_reload_at: datetime | None
    last_reload_seconds: float | None
    last_verified_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    next_retry_at: datetime | None
    shm_free: int | None
    shm_total: int | None

    def as_dict(self) -> dict:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in self.__dict__.items()
        }


def proxy_status_list(*, pending_limit: int = 10) -> list[ProxyStatus]:
    """Every proxy's status with up to ``pending_limit`` of the dids it has not loaded,
    the most recently changed first; four queries however many proxies there are (three
    with ``pending_limit=0``)."""
    generation, _changed_at = desired_state()
    proxies = list(Proxy.objects.order_by("name"))
    behind = [proxy for proxy in proxies if proxy.applied_generation < generation]
    counts = _pending_counts(behind)
    latest = _latest_changes(behind, pending_limit)
    return [
        _status_of(
            proxy,
            generation,
            pending_count=counts.get(proxy.pk, 0),
            pending_dids=[did for did, at in latest if _not_loaded(proxy, at)][:pending_limit]
            if proxy.pk in counts
            else [],
        )
        for proxy in proxies
    ]


def _not_loaded(proxy: Proxy, changed_at: datetime) -> bool:
    return proxy.applied_changed_at is None or changed_at > proxy.applied_changed_at


def _latest_changes(behind: list[Proxy], limit: int) -> list[tuple[str, datetime]]:
    """The ``limit`` most recently changed domains that any of these proxies has not
    loaded, in one query. Newest first, the domains one proxy has not loaded are a prefix
    of this list: those changed after the data it loaded."""
    if not behind or limit <= 0:
        return []
    domains = Domain.objects.all()
    if all(proxy.applied_changed_at is not None for proxy in behind):
        oldest = min(proxy.applied_changed_at for proxy in behind)
        domains = domains.filter(updated_at__gt=oldest)
    return list(domains.order_by("-updated_at", "-pk").values_list("did", "updated_at")[:limit])


def _pending_filter(proxy: Proxy) -> Q | None:
    """The domains changed after the data the proxy loaded (all, if it loaded none)."""
    if proxy.applied_changed_at is None:
        return None
    return Q(updated_at__gt=proxy.applied_changed_at)


def _pending_counts(behind: list[Proxy]) -> dict[int, int]:
    """The number of domains each of these proxies has not loaded, in one query."""
    if not behind:
        return {}
    counts = Domain.objects.aggregate(
        **{f"proxy_{proxy.pk}": Count("pk", filter=_pending_filter(proxy)) for proxy in behind}
    )
    return {proxy.pk: counts[f"proxy_{proxy.pk}"] for proxy in behind}


def _status_of(
    proxy: Proxy, generation: int, *, pending_count: int, pending_dids: list[str]
) -> ProxyStatus:
    behind = proxy.applied_generation < generation
    erring = proxy.last_error_at is not None and (
        proxy.last_reload_at is None or proxy.last_error_at > proxy.last_reload_at
    )
    if not proxy.enabled:
        state = "disabled"
    elif proxy.reloading_since is not None:
        state = "reloading"
    elif not behind:
        state = "live"
    elif erring and proxy.last_error.startswith("shared memory"):
        state = "no room"
    elif erring:
        state = "failing"
    else:
        state = "pending"
    return ProxyStatus(
        id=proxy.pk,
        name=proxy.name,
        transport=proxy.transport,
        address=proxy.address,
        state=state,
        applied_generation=proxy.applied_generation,
        desired_generation=generation,
        pending_dids=pending_dids,
        pending_count=pending_count,
        reload_count=proxy.reload_count,
        update_count=proxy.update_count,
        failures=proxy.failures,
        last_reload_at=proxy.last_reload_at,
        last_reload_seconds=proxy.last_reload_seconds,
        last_verified_at=proxy.last_verified_at,
        last_error=proxy.last_error if erring else "",
        last_error_at=proxy.last_error_at if erring else None,
        next_retry_at=proxy.next_retry_at if behind else None,
        shm_free=proxy.shm_free,
        shm_total=proxy.shm_total,
    )


def proxies_loaded_at() -> list[tuple[str, datetime | None]]:
    """Each enabled proxy's name and the change time of the data it last loaded."""
    return list(
        Proxy.objects.filter(enabled=True)
        .order_by("name")
        .values_list("name", "applied_changed_at")
    )


def pending_proxies(domain: Domain, loaded: list[tuple[str, datetime | None]]) -> list[str]:
    """Of ``loaded`` (proxies_loaded_at()), the proxies that do not serve the domain's
    latest change yet; for many domains, read ``loaded`` once."""
    return [name for name, at in loaded if at is None or at < domain.updated_at]


def pending_on(proxies: Iterable[Proxy]) -> Q:
    """The domains (a condition on Domain) that one of these proxies has not loaded yet."""
    loaded = [proxy.applied_changed_at for proxy in proxies]
    if not loaded:
        return Q(pk__in=[])
    if None in loaded:  # a proxy that loaded nothing yet waits for every domain
        return Q(pk__isnull=False)
    return Q(updated_at__gt=min(loaded))


def domain_pending_proxies(domain: Domain) -> list[str]:
    """The enabled proxies that have not loaded the domain's latest change yet."""
    return pending_proxies(domain, proxies_loaded_at())


def domains_pending_proxies(domains: Iterable[Domain]) -> list[str]:
    """The enabled proxies that have not loaded the latest change of one of these domains."""
    loaded = proxies_loaded_at()
    return sorted({name for domain in domains for name in pending_proxies(domain, loaded)})


def pending_note(proxies: list[str]) -> str:
    """For a person who just changed domains, given which proxies do not serve the change
    yet (domain_pending_proxies, domains_pending_proxies)."""
    if not proxies:
        return "Live on every proxy."
    return f"Not live yet on proxy {', '.join(proxies)}."


def reload_waiting_note() -> str | None:
    """One line for a person who just made a change: which proxies do not serve it yet
    and why; None when every enabled proxy is up to date."""
    generation, _changed_at = desired_state()
    waiting = Proxy.objects.filter(enabled=True, applied_generation__lt=generation).order_by("name")
    parts = []
    for proxy in waiting:
        reason = "reload queued"
        if proxy.reloading_since is not None:
            reason = "reloading"
        elif proxy.last_error and proxy.failures:
            reason = proxy.last_error
        parts.append(f"{proxy.name} ({reason})")
    if not parts:
        return None
    return "not live yet on proxy " + ", ".join(parts)


@dataclass(frozen=True)
class ProxyServing:
    """Whether one enabled proxy serves a domain's latest change, and if not, where the
    reload that will bring it stands (live, pending, reloading, failing, no room)."""

    name: str
    serves: bool
    state: str


def domain_serving(domain: Domain) -> list[ProxyServing]:
    """Each enabled proxy, by name: does it serve the domain as it is now? Two queries."""
    generation, _changed_at = desired_state()
    found = []
    for proxy in Proxy.objects.filter(enabled=True).order_by("name"):
        status = _status_of(proxy, generation, pending_count=0, pending_dids=[])
        loaded = proxy.applied_changed_at
        serves = loaded is not None and loaded >= domain.updated_at
        found.append(ProxyServing(proxy.name, serves, status.state))
    return found
