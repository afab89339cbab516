"""Tenant claims: a tenant asks for a domain, publishes a random token in
``TXT _<label>-challenge.<domain>``, and gets the domain once serweb sees it there."""

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains.dns.client import Client, Status
from domains.dns.name_policy import claimable_host, not_available
from domains.dns.observation import Observation, observe, token_published
from domains.dns.policy import DnsPolicy
from domains.dns.resolution import run_dns, txt_values
from domains.dns.sip import ProxyIdentity, TargetCache
from domains.dns.verification import Verification, conclude, domain_verify
from domains.models import Domain, DomainClaim, DomainName, DomainOrigin, DomainState, Tenant
from domains.services import Actor, domain_create
from serweb.errors import errors_under


def new_token() -> str:
    # 192 random bits, in characters a TXT record holds without quoting.
    return secrets.token_urlsafe(24)


@transaction.atomic
def domain_claim_start(
    *, actor: Actor, tenant: Tenant, name: str, policy: DnsPolicy | None = None
) -> DomainClaim:
    """Start (or repeat) a tenant's claim: the TXT record it must publish is
    ``_<label>-challenge.<name> TXT <token>``."""
    policy = policy or DnsPolicy.from_settings()
    with errors_under("name"):
        host = claimable_host(name, tenant=tenant, policy=policy)
    existing = DomainName.objects.filter(name=host.value).select_related("domain").first()
    if existing is not None:
        if existing.domain.tenant_id == tenant.pk:
            raise ValidationError({"name": f"{host.value} is already one of your domains"})
        raise ValidationError({"name": not_available(host.value)})
    claim, created = DomainClaim.objects.get_or_create(
        tenant=tenant, name=host.value, defaults={"token": new_token()}
    )
    if created:
        audit_record(
            actor=actor,
            action="domain.claim_start",
            object_type="claim",
            object_repr=host.value,
            tenant=tenant,
            after={"tenant": tenant.name, "name": host.value},  # never the token
        )
    return claim


def claim_record(claim: DomainClaim, policy: DnsPolicy | None = None) -> str:
    """The record to publish, in zone file syntax."""
    policy = policy or DnsPolicy.from_settings()
    return f'{policy.challenge_label}.{claim.name}. TXT "{claim.token}"'


def domain_claim_verify(
    *,
    actor: Actor,
    claim: DomainClaim,
    now: datetime | None = None,
    policy: DnsPolicy | None = None,
    client: Client | None = None,
) -> Verification | None:
    """Check the claim's token and SRV now. With the token published, the tenant gets the
    domain: active when it already points at us, pending until it does otherwise.
    Returns None (with the reason on the claim) when the token is not there."""
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    if claim.domain is not None:
        # Granted already: what is left is the domain's own verification.
        return domain_verify(
            actor=actor, domain=claim.domain, now=now, policy=policy, client=client
        )
    # Errors about the claim's name, as when the tenant gave it to start the claim.
    with errors_under("name"):
        host = claimable_host(claim.name, tenant=claim.tenant, policy=policy)
    token_answer, sip_seen, proxy = run_dns(_observe_claim(host.value, claim.token, policy, client))
    claim.checked_at = now
    if token_answer.status == Status.UNKNOWN:
        claim.result = f"DNS did not answer: {token_answer.error}"[:255]
    elif not token_published(txt_values(token_answer), claim.token):
        claim.result = f"the token is not in TXT {token_answer.name}"[:255]
    else:
        return _grant_claim(actor, claim, sip_seen, proxy, now, policy)
    claim.save(update_fields=["checked_at", "result"])
    return None


async def _observe_claim(name: str, token: str, policy: DnsPolicy, client: Client | None):
    async with client or policy.client() as asking:
        token_answer = await asking.query(f"{policy.challenge_label}.{name}", "TXT")
        proxy = await policy.proxy.with_hostname_addresses(asking)
        seen = await observe(
            name, client=asking, targets=TargetCache(proxy), policy=policy, token=token
        )
        return token_answer, seen, proxy


def _grant_claim(
    actor: Actor,
    claim: DomainClaim,
    seen: Observation,
    proxy: ProxyIdentity,
    now: datetime,
    policy: DnsPolicy,
) -> Verification:
    # Two verifications of one claim may prove it at once: the claim's row decides which
    # one grants it; the other concludes on the granted domain, after the claim's lock
    # is released (a domain's lock is never taken under a claim's: domain_delete locks
    # the domain, then its claims).
    with transaction.atomic():
        claim.refresh_from_db(from_queryset=DomainClaim.objects.select_for_update())
        if claim.domain is None:
            domain = _grant(actor, claim, now)
            # Nobody else sees the new domain before this commits.
            return conclude(
                actor=actor, domain=domain, seen=seen, proxy=proxy, now=now, policy=policy
            )
    return conclude(
        actor=actor, domain=claim.domain, seen=seen, proxy=proxy, now=now, policy=policy
    )


def _grant(actor: Actor, claim: DomainClaim, now: datetime) -> Domain:
    try:
        domain = domain_create(
            actor=actor,
            name=claim.name,
            state=DomainState.PENDING,
            origin=DomainOrigin.TENANT,
            tenant=claim.tenant,
        )
    except ValidationError:
        # Served since the claim started (an operator's domain, another tenant's claim):
        # the tenant is not told whose.
        raise ValidationError({"name": not_available(claim.name)}) from None
    claim.domain = domain
    claim.checked_at = now
    claim.verified_at = now
    claim.result = "ownership proven"
    claim.save(update_fields=["domain", "verified_at", "checked_at", "result"])
    return domain
