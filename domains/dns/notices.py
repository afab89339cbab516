"""Mails to a tenant about the DNS of its domains: live, suspect (which records fail, and
when housekeeping could switch the domain off), soon switched off, switched off, served
again; and about one host name of a domain that stays served under its others: suspect,
no longer served. Each is sent after the commit that made the change; a mail server that refuses
costs the mail (logged), never the change."""

import logging
from datetime import datetime
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from domains.dns.failures import failing_records
from domains.dns.lifecycle import Counters, disable_earliest_at
from domains.dns.policy import DnsPolicy
from domains.dns.publish import domain_records
from domains.models import Domain, DomainCheck, DomainState, DomainTransition, Tenant
from domains.names import NameKind, name_for_people, normalize_host
from serweb.links import public_url

logger = logging.getLogger(__name__)

SUBJECTS = {
    "live": "{name} is live",
    "suspect": "{name}: its DNS records are not what serweb needs",
    "disable_soon": "{name} may be switched off soon",
    "disabled": "{name} is switched off",
    "back": "{name} is served again",
    "name_suspect": "{name}: its DNS records are not what serweb needs",
    "name_disabled": "{name} is no longer served",
    "name_back": "{name} is served again",
}


def _kind(from_state: str, to_state: str) -> str | None:
    if to_state == DomainState.ACTIVE:
        return "live" if from_state == DomainState.PENDING else "back"
    if to_state == DomainState.SUSPECT and from_state == DomainState.ACTIVE:
        return "suspect"
    if to_state == DomainState.DISABLED:
        return "disabled"
    return None


def tenant_notify(
    *,
    domain: Domain,
    kind: str,
    evidence: dict[str, Any],
    token: str | None,
    policy: DnsPolicy,
    disable_at: datetime | None = None,
    served_under: list[str] | None = None,
) -> None:
    """Mail the domain's tenant, after the commit, about ``kind`` (a key of SUBJECTS): the
    name the evidence is of, and for a name's mail the names the domain is still served
    under."""
    tenant = Tenant.objects.select_related("owner").filter(domains=domain).first()
    if tenant is None or not tenant.owner.email:
        return
    name = evidence.get("domain") or domain.did
    expected = domain_records(name, token=token, policy=policy)
    context = {
        "tenant": tenant,
        "name": name_for_people(name),
        "did": domain.did,
        "failures": failing_records(evidence, expected),
        "reason": evidence.get("reason", ""),
        "disable_at": disable_at,
        "domain_name": name_for_people(domain.canonical_name),
        "served_under": [name_for_people(other) for other in served_under or []],
        "url": public_url("portal:my-domain", domain.did),
    }
    subject = "[serweb] " + SUBJECTS[kind].format(name=name_for_people(name))
    body = render_to_string(f"domains/mail/{kind}.txt", context)
    to = [tenant.owner.email]
    transaction.on_commit(lambda: _send(subject, body, to))


def _send(subject: str, body: str, to: list[str]) -> None:
    try:
        send_mail(subject, body, None, to)
    except Exception:  # the change is made; the mail is only news of it
        logger.exception("could not mail %s: %s", ", ".join(to), subject)


def transition_notify(
    *,
    domain: Domain,
    from_state: str,
    to_state: str,
    evidence: dict[str, Any],
    token: str | None,
    policy: DnsPolicy,
    now: datetime,
) -> None:
    """What a lifecycle transition tells the tenant."""
    kind = _kind(from_state, to_state)
    if kind is None or domain.tenant_id is None:
        return
    tenant_notify(
        domain=domain,
        kind=kind,
        evidence=evidence,
        token=token,
        policy=policy,
        disable_at=_disable_at_after_first_negative(policy, now) if kind == "suspect" else None,
    )


def _disable_at_after_first_negative(policy: DnsPolicy, now: datetime) -> datetime | None:
    """The first moment housekeeping could disable what turned suspect at ``now``."""
    return disable_earliest_at(Counters(1, now, now), policy, now)


def name_transition_notify(
    *,
    domain: Domain,
    name: str,
    from_state: str,
    to_state: str,
    evidence: dict[str, Any],
    token: str | None,
    policy: DnsPolicy,
    now: datetime,
    served_under: list[str],
) -> None:
    """What one host name's move tells the tenant: going negative while its domain stays
    served under ``served_under`` (the records that fail, and when the name could stop
    being served; with no name left the domain's own mail tells), and served again while
    its domain is (not when the domain comes back with it: its own mail tells). IP
    literals are not the tenant's to fix and are never mailed."""
    kind = _kind(from_state, to_state)
    if domain.tenant_id is None or normalize_host(name).kind != NameKind.HOSTNAME:
        return
    if kind in ("suspect", "disabled"):
        if not served_under or not domain.is_served:
            return
    elif kind == "back":
        came_back = DomainTransition.objects.filter(domain=domain, name="", created_at=now)
        if domain.state != DomainState.ACTIVE or came_back.exists():
            return
    else:
        return
    tenant_notify(
        domain=domain,
        kind=f"name_{kind}",
        evidence=evidence,
        token=token,
        policy=policy,
        disable_at=_disable_at_after_first_negative(policy, now) if kind == "suspect" else None,
        served_under=served_under,
    )


def warning_after(check: DomainCheck, to_state: str, policy: DnsPolicy, now: datetime) -> None:
    """Keep ``check.warned_at`` (the caller saves it) with a transition to ``to_state``: a
    domain active again starts afresh; a new suspect whose disable could come within the
    warning's reach already hears of it in the mail of its first negative."""
    if to_state == DomainState.ACTIVE:
        check.warned_at = None
    elif to_state == DomainState.SUSPECT:
        disable_at = _disable_at_after_first_negative(policy, now)
        if disable_at is not None and disable_at - now <= policy.disable_warning:
            check.warned_at = now


def disable_warning(
    *, domain: Domain, check: DomainCheck, token: str | None, policy: DnsPolicy, now: datetime
) -> bool:
    """Warn the tenant of a suspect domain, once per spell, when housekeeping could disable
    it within the warning's reach; marks ``check`` (the caller saves ``warned_at``)."""
    if domain.state != DomainState.SUSPECT or domain.tenant_id is None:
        return False
    if check.warned_at is not None:
        return False
    disable_at = disable_earliest_at(Counters.of(check), policy, now)
    if disable_at is None or disable_at - now > policy.disable_warning:
        return False
    check.warned_at = now
    tenant_notify(
        domain=domain,
        kind="disable_soon",
        evidence=check.evidence,
        token=token,
        policy=policy,
        disable_at=disable_at,
    )
    return True
