"""DNS verification services: check a domain now, record what was seen, apply the
lifecycle's transition with its evidence; restore a removed domain; learn one from DNS.

Services in the sense of services.py: every write to a domain (state, attributes, creation)
goes through domains.services, which audits it and sends ``domains_changed``; this module
adds the DNS observations (domains.dns.observation), the lifecycle decisions
(domains.dns.lifecycle) and their evidence. DNS.md has the policy this implements.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains.dns.attributes import AttributeImport, import_dns_attributes
from domains.dns.check_rows import check_save
from domains.dns.client import Client
from domains.dns.lifecycle import Counters, decide, deciding_observation, unless_unconfirmed
from domains.dns.literals import literals_conclude
from domains.dns.name_controls import names_restore_removed
from domains.dns.name_policy import claimable_host
from domains.dns.names import NameVerification, checked_host_names, names_conclude
from domains.dns.notices import disable_warning, transition_notify, warning_after
from domains.dns.observation import (
    Observation,
    Outcome,
    confirm_fresh,
    observe_fresh,
    observe_names_fresh,
    observe_within,
)
from domains.dns.policy import DnsPolicy
from domains.dns.resolution import run_dns
from domains.dns.sip import ProxyIdentity, Verdict
from domains.models import (
    Domain,
    DomainCheck,
    DomainClaim,
    DomainName,
    DomainOrigin,
    DomainState,
    DomainTransition,
    HousekeepingRun,
)
from domains.names import normalize_host
from domains.selectors import DomainNotFound
from domains.services import (
    Actor,
    domain_create,
    domain_lock,
    domain_set_state,
)
from serweb.metrics import VERIFICATION_SECONDS, VERIFICATIONS


@transaction.atomic
def domain_transition(
    *,
    actor: Actor,
    domain: Domain,
    to_state: str,
    verdict: str,
    reason: str,
    evidence: dict[str, Any],
    run: HousekeepingRun | None = None,
    now: datetime | None = None,
    policy: DnsPolicy | None = None,
) -> DomainTransition:
    """Move a domain through the lifecycle, keeping the evidence that made it move; its
    tenant is told (after the commit) when that is news to it."""
    now = now or timezone.now()
    from_state = domain.state
    domain_set_state(actor=actor, domain=domain, state=to_state)
    transition_notify(
        domain=domain,
        from_state=from_state,
        to_state=to_state,
        evidence=evidence,
        token=ownership_token(domain),
        policy=policy or DnsPolicy.from_settings(),
        now=now,
    )
    return DomainTransition.objects.create(
        domain=domain,
        from_state=from_state,
        to_state=to_state,
        verdict=verdict,
        reason=reason[:255],
        evidence=evidence,
        run=run,
        created_at=now,
    )


# --- verifying one domain now -------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The result of verifying one domain, for commands, pages and the API."""

    did: str
    name: str
    observation: Observation
    outcome: Outcome
    from_state: str
    to_state: str
    note: str = ""
    attributes: AttributeImport | None = None
    # What the check did to each host name, when it looked at all of them.
    names: tuple[NameVerification, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return self.observation.sip.verdict


def checked_names(domain: Domain) -> list[DomainName]:
    """The names DNS verification looks at, the canonical one first: the host names of
    the domain, but those exempt from housekeeping or removed by it."""
    names = checked_host_names(domain)
    if names:
        return names
    if not Domain.objects.filter(pk=domain.pk).exists():
        raise DomainNotFound(f"domain {domain.did} does not exist any more")
    raise ValidationError(f"domain {domain.did} has no host name to look up in DNS")


def ownership_token(domain: Domain) -> str | None:
    """The token that must stay published, for a domain a tenant claimed."""
    if domain.tenant_id is None:
        return None
    claim = (
        DomainClaim.objects.filter(domain=domain, tenant_id=domain.tenant_id)
        .exclude(verified_at=None)
        .first()
    )
    return claim.token if claim else None


def domain_verify(
    *,
    actor: Actor = None,
    domain: Domain,
    now: datetime | None = None,
    policy: DnsPolicy | None = None,
    client: Client | None = None,
) -> Verification:
    """Check every host name of the domain in DNS now (no cache), record what was seen
    and apply the lifecycle: each name's, and the domain's by the best of them; and each
    IP literal against the proxy addresses."""
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    names = checked_names(domain)
    token = ownership_token(domain)
    with VERIFICATION_SECONDS.time():
        seen, proxy = run_dns(
            observe_names_fresh([(n.name, n.is_canonical) for n in names], policy, token, client)
        )
    result = conclude(
        actor=actor,
        domain=domain,
        seen=deciding_observation(seen, policy),
        proxy=proxy,
        now=now,
        policy=policy,
        client=client,
    )
    moved = names_conclude(
        actor=actor,
        domain=domain,
        seen=list(zip(names, seen, strict=True)),
        proxy=proxy,
        now=now,
        policy=policy,
        token=token,
        client=client,
    )
    moved += literals_conclude(actor=actor, domain=domain, policy=policy, now=now)
    return replace(result, names=tuple(moved))


def conclude(
    *,
    actor: Actor,
    domain: Domain,
    seen: Observation,
    proxy: ProxyIdentity,
    now: datetime,
    policy: DnsPolicy,
    client: Client | None = None,
    run: HousekeepingRun | None = None,
) -> Verification:
    """Record an observation of one domain and apply the transition it calls for.

    Raises DomainNotFound when the domain was deleted meanwhile.
    """
    outcome = seen.outcome(policy)
    VERIFICATIONS.labels(verdict=str(seen.sip.verdict)).inc()
    # A first look without a lock, to know whether the authoritative servers must be
    # asked: no DNS question is asked under a lock.
    known = DomainCheck.objects.filter(domain=domain).first()
    first = decide(
        state=domain.state,
        state_changed_at=domain.state_changed_at,
        counters=Counters.of(known) if known is not None else Counters(),
        outcome=outcome,
        now=now,
        policy=policy,
    )
    confirmed = None
    if first.needs_authority:
        confirmed, authority = run_dns(
            confirm_fresh(
                seen.name, policy=policy, proxy=proxy, token=ownership_token(domain), client=client
            )
        )
        seen = replace(seen, authority=authority)
    with transaction.atomic():
        # The domain first, then its check: the order of every writer of checks
        # (domain_delete cascades to them). The decision is made again on what the lock
        # lets through.
        domain_lock(domain)
        check, _created = DomainCheck.objects.get_or_create(domain=domain)
        decision = decide(
            state=domain.state,
            state_changed_at=domain.state_changed_at,
            counters=Counters.of(check),
            outcome=outcome,
            now=now,
            policy=policy,
        )
        decision = unless_unconfirmed(decision, confirmed, "domain")
        from_state = domain.state
        check_save(check, seen, outcome, now, decision.counters)
        warned_at = check.warned_at
        if outcome == Outcome.NEGATIVE and not decision.to_state:
            disable_warning(
                domain=domain, check=check, token=ownership_token(domain), policy=policy, now=now
            )
        if decision.to_state and decision.to_state != from_state:
            warning_after(check, decision.to_state, policy, now)
        if check.warned_at != warned_at:
            check.save(update_fields=["warned_at"])
        if decision.to_state and decision.to_state != from_state:
            domain_transition(
                actor=actor,
                domain=domain,
                to_state=decision.to_state,
                verdict=str(seen.sip.verdict),
                reason=seen.reason,
                evidence=seen.to_evidence(),
                run=run,
                now=now,
                policy=policy,
            )
    attributes = None
    if outcome == Outcome.POSITIVE and seen.config is not None:
        attributes = import_dns_attributes(actor=actor, domain=domain, config=seen.config)
        _note_attributes(domain, now, attributes)
    return Verification(
        did=domain.did,
        name=seen.name,
        observation=seen,
        outcome=outcome,
        from_state=from_state,
        to_state=domain.state,
        note=decision.note,
        attributes=attributes,
    )


@transaction.atomic
def _note_attributes(domain: Domain, checked_at: datetime, attributes: AttributeImport) -> None:
    """Add what the attribute import did to the evidence of the check at ``checked_at``,
    unless a newer check has replaced it meanwhile."""
    domain_lock(domain)
    check = DomainCheck.objects.filter(domain=domain, checked_at=checked_at).first()
    if check is not None:
        check.evidence = {**check.evidence, "attributes": attributes.to_evidence()}
        check.save(update_fields=["evidence"])


def name_check(
    *, name: str, policy: DnsPolicy | None = None, client: Client | None = None
) -> Observation:
    """Look at any name in DNS now, recording nothing (for a name serweb does not serve)."""
    policy = policy or DnsPolicy.from_settings()
    host = normalize_host(name)
    if host.is_ip:
        raise ValidationError(f"{host.value}: an IP address cannot be verified in DNS")
    seen, _proxy = run_dns(observe_fresh(host.value, policy, None, client))
    return seen


def domain_restore(*, actor: Actor, domain: Domain, **options: Any) -> Verification:
    """Bring a removed domain back for verification, with the names housekeeping removed:
    active again if DNS points at us."""
    if domain.state != DomainState.REMOVED:
        raise ValidationError(f"domain {domain.did} is {domain.state}, not removed")
    with transaction.atomic():
        domain_set_state(actor=actor, domain=domain, state=DomainState.PENDING)
        names_restore_removed(actor=actor, domain=domain)
    return domain_verify(actor=actor, domain=domain, **options)


def domain_dns_managed_set(*, actor: Actor, domain: Domain, managed: bool) -> DomainCheck:
    """Let housekeeping manage the domain's state, or not (the operator serves it anyway)."""
    with transaction.atomic():
        domain_lock(domain)  # before its check, as every writer of checks
        check, _created = DomainCheck.objects.get_or_create(domain=domain)
        if check.managed != managed:
            audit_record(
                actor=actor,
                action="domain.dns_managed",
                object_type="domain",
                object_repr=domain.did,
                domain=domain,
                before={"dns_managed": check.managed},
                after={"dns_managed": managed},
            )
            check.managed = managed
            check.save(update_fields=["managed"])
    return check


# --- learning a domain from DNS (the proxy's on-demand lookup) ------------------------------


def domain_learn(
    *,
    name: str,
    now: datetime | None = None,
    policy: DnsPolicy | None = None,
    client: Client | None = None,
    within: float | None = None,
) -> tuple[Domain | None, Observation]:
    """Create a domain for ``name`` when auto-learning is on and DNS points it at us.

    ``within``: seconds the whole DNS check may take; one not done by then is unknown."""
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    host = claimable_host(name, tenant=None, policy=policy)
    seen, proxy = run_dns(observe_within(host.value, policy, client, within))
    if not policy.auto_learn or seen.outcome(policy) != Outcome.POSITIVE:
        return None, seen
    with transaction.atomic():
        domain = domain_create(
            actor=None, name=host.value, state=DomainState.PENDING, origin=DomainOrigin.DNS
        )
        conclude(actor=None, domain=domain, seen=seen, proxy=proxy, now=now, policy=policy)
    return domain, seen
