"""SIP OPTIONS probes: does the proxy serve the names of some domains as the database
says it should? The reference configuration answers 200 with the did, or 404."""

from collections.abc import Iterable, Iterator
from datetime import datetime

from domains.models import Domain
from domains.selectors import names_with_checks
from proxies import sip_probe, transport
from proxies.config import config
from proxies.models import Proxy


def changed_domains(since: datetime | None, until: datetime | None) -> list[Domain]:
    """The domains changed in the generations a reload brings in, newest first."""
    domains = Domain.objects.prefetch_related(names_with_checks()).order_by("-updated_at")
    if since is not None:
        domains = domains.filter(updated_at__gt=since)
    if until is not None:
        domains = domains.filter(updated_at__lte=until)
    return list(domains[: config().probe_names])


def probe_names(proxy: Proxy, domains: Iterable[Domain], *, limit: int | None = None) -> list[str]:
    """Ask the proxy about the names of ``domains``, at most ``limit`` of them (SIP
    OPTIONS, answered by the reference configuration), and return what differs from the
    database. A proxy without a SIP address is not probed."""
    return probe_expected(proxy, names_served_as(domains), limit=limit)


def names_served_as(domains: Iterable[Domain]) -> Iterator[tuple[str, str | None]]:
    """Each name of ``domains`` (prefetched as changed_domains gives them) with the did the
    proxy must serve it as, or None for a name it must not serve."""
    for domain in domains:
        for name in domain.names.all():
            # A name the DNS lifecycle disabled is not served while the domain is.
            yield name.name, domain.did if domain.is_served and name.is_served_by_state else None


def probe_expected(
    proxy: Proxy, expected: Iterable[tuple[str, str | None]], *, limit: int | None = None
) -> list[str]:
    """Ask the proxy about each (name, did it should serve the name as, or None for not
    at all), at most ``limit`` of them, and return what differs."""
    if not proxy.sip_address:
        return []
    cfg = config()
    wrong: list[str] = []
    budget = cfg.probe_names if limit is None else limit
    for name, did in expected:
        if budget <= 0:
            break
        budget -= 1
        try:
            answer = sip_probe.options(proxy.sip_address, name, timeout=cfg.probe_timeout)
        except transport.ProxyError as exc:
            wrong.append(f"{name}: {exc}")
            continue
        problem = _probe_problem(name, answer, did)
        if problem:
            wrong.append(problem)
    return wrong


def _probe_problem(name: str, answer: sip_probe.SipAnswer, expected: str | None) -> str | None:
    if answer.status not in (200, 404):
        return f"{name} answered {answer.status} {answer.reason}"
    did = answer.headers.get("x-serweb-did") if answer.status == 200 else None
    if answer.status == 200 and did is None:
        # A configuration other than the reference one may answer 200 without the did.
        did = expected or "an unknown did"
    if did == expected:
        return None
    return f"{name} is served as {did or 'nothing'}, expected {expected or 'nothing'}"
