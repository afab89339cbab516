"""SIP OPTIONS probes: does the proxy serve the names of some domains as the database
says it should? The reference configuration answers 200 with the did, or 404."""

from collections.abc import Iterable
from datetime import datetime

from domains.models import Domain
from domains.selectors import names_with_checks
from proxies import transport
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
    if not proxy.sip_address:
        return []
    cfg = config()
    wrong: list[str] = []
    budget = cfg.probe_names if limit is None else limit
    for domain in domains:
        for name in domain.names.all():
            # A name the DNS lifecycle disabled is not served while the domain is.
            expected = domain.did if domain.is_served and name.is_served_by_state else None
            if budget <= 0:
                return wrong
            budget -= 1
            try:
                answer = transport.sip_options(
                    proxy.sip_address, name.name, timeout=cfg.probe_timeout
                )
            except transport.ProxyError as exc:
                wrong.append(f"{name.name}: {exc}")
                continue
            problem = _probe_problem(name.name, answer, expected)
            if problem:
                wrong.append(problem)
    return wrong


def _probe_problem(name: str, answer: transport.SipAnswer, expected: str | None) -> str | None:
    if answer.status not in (200, 404):
        return f"{name} answered {answer.status} {answer.reason}"
    did = answer.headers.get("x-serweb-did") if answer.status == 200 else None
    if answer.status == 200 and did is None:
        # A configuration other than the reference one may answer 200 without the did.
        did = expected or "an unknown did"
    if did == expected:
        return None
    return f"{name} is served as {did or 'nothing'}, expected {expected or 'nothing'}"
