"""Tenant claims: a tenant asks for a domain, publishes a random token in
``TXT _<label>-challenge.<domain>``, and gets the domain once serweb sees it there."""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Q
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
from serweb.db import lost_race
from serweb.errors import errors_under


def new_token() -> str:
    # 192 random bits, in characters a TXT record holds without quoting.
    return secrets.token_urlsafe(24)


def claim_expiry() -> timedelta:
    return timedelta(hours=settings.SERWEB_CLAIM_EXPIRY_HOURS)


def claims_held(tenant: Tenant, now: datetime) -> tuple[int, int]:
    """What counts against the tenant's limits: its domains (removed ones aside) and its
    claims still waiting, and of those the claims."""
    waiting = DomainClaim.objects.filter(tenant=tenant, verified_at=None, expires_at__gt=now)
    claims = waiting.count()
    domains = Domain.objects.filter(tenant=tenant).exclude(state=DomainState.REMOVED).count()
    return domains + claims, claims


def _check_limits(tenant: Tenant, now: datetime) -> None:
    held, waiting = claims_held(tenant, now)
    if held >= tenant.domain_quota:
        raise ValidationError(
            {
                "name": f"you hold {held} domains and claims, as many as your quota allows "
                f"({tenant.domain_quota}); release one or ask the operator for more"
            }
        )
    if waiting >= tenant.pending_claim_limit:
        raise ValidationError(
            {
                "name": f"{waiting} of your claims wait for DNS proof, as many as may wait at "
                f"once ({tenant.pending_claim_limit}); prove or withdraw one first"
            }
        )


def _check_name_free(host: str, tenant: Tenant, now: datetime) -> None:
    existing = DomainName.objects.filter(name=host).select_related("domain").first()
    if existing is not None:
        if existing.domain.tenant_id == tenant.pk:
            raise ValidationError({"name": f"{host} is already one of your domains"})
        raise ValidationError({"name": not_available(host)})
    others = DomainClaim.objects.filter(name=host, verified_at=None, expires_at__gt=now)
    if others.exclude(tenant=tenant).exists():
        raise ValidationError({"name": not_available(host)})


@transaction.atomic
def domain_claim_start(
    *,
    actor: Actor,
    tenant: Tenant,
    name: str,
    policy: DnsPolicy | None = None,
    now: datetime | None = None,
) -> DomainClaim:
    """Start (or repeat) a tenant's claim: the TXT record it must publish is
    ``_<label>-challenge.<name> TXT <token>``, within SERWEB_CLAIM_EXPIRY_HOURS.

    Refused: names serweb never serves, names served or claimed by someone else (without
    saying whose), and claims past the tenant's quota or its limit of waiting claims.
    The limits are counted under a lock of the tenant's row, so claims made at once cannot
    pass them together."""
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    with errors_under("name"):
        host = claimable_host(name, tenant=tenant, policy=policy).value
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    _check_name_free(host, tenant, now)
    claim = DomainClaim.objects.filter(tenant=tenant, name=host).first()
    if claim is not None and claim.waiting and claim.expires_at > now:
        return claim
    _purge(DomainClaim.objects.filter(name=host, verified_at=None, expires_at__lte=now))
    _check_limits(tenant, now)
    fresh = {"token": new_token(), "created_at": now, "expires_at": now + claim_expiry()}
    if claim is not None and not claim.waiting:
        # Proven once, its domain gone since: a new claim under the old row.
        DomainClaim.objects.filter(pk=claim.pk).update(
            **fresh, verified_at=None, checked_at=None, result="", domain=None
        )
        claim.refresh_from_db()
    else:
        with lost_race(lambda: _check_name_free(host, tenant, now), field="name"):
            claim = DomainClaim.objects.create(tenant=tenant, name=host, **fresh)
    audit_record(
        actor=actor,
        action="domain.claim_start",
        object_type="claim",
        object_repr=host,
        tenant=tenant,
        after={"tenant": tenant.name, "name": host, "expires_at": claim.expires_at.isoformat()},
    )  # never the token
    return claim


def _purge(expired) -> int:
    """Drop claims that waited too long, each with an entry in its tenant's history."""
    count = 0
    for claim in expired.select_related("tenant").select_for_update(of=("self",)):
        audit_record(
            actor=None,
            action="domain.claim_expire",
            object_type="claim",
            object_repr=claim.name,
            tenant=claim.tenant,
            before={"name": claim.name, "expires_at": claim.expires_at.isoformat()},
        )
        claim.delete()
        count += 1
    return count


@transaction.atomic
def claims_purge_expired(*, now: datetime | None = None) -> int:
    """Drop every claim left unproven past its expiry; how many."""
    now = now or timezone.now()
    return _purge(DomainClaim.objects.filter(verified_at=None, expires_at__lte=now))


@transaction.atomic
def domain_claim_withdraw(*, actor: Actor, claim: DomainClaim) -> None:
    """The tenant no longer waits for the name (a proven claim goes with its domain)."""
    locked = DomainClaim.objects.select_for_update().filter(pk=claim.pk, verified_at=None)
    if not locked.exists():
        raise ValidationError("the claim is proven already: release the domain instead")
    audit_record(
        actor=actor,
        action="domain.claim_withdraw",
        object_type="claim",
        object_repr=claim.name,
        tenant=claim.tenant,
        before={"name": claim.name},
    )
    locked.delete()


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
    if claim.expires_at is not None and claim.expires_at <= now:
        raise ValidationError(
            {"name": f"the claim of {claim.name} expired unproven; claim the name again"}
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


def claims_retry(*, now: datetime | None = None, policy: DnsPolicy | None = None) -> int:
    """Drop the expired claims, then check again, as "check now" does, every claim still
    waiting and every domain a recent claim proved that still waits for its SRV records.
    Returns how many were checked; what each check found is on its claim or domain."""
    now = now or timezone.now()
    claims_purge_expired(now=now)
    due = DomainClaim.objects.filter(
        Q(verified_at=None, expires_at__gt=now)
        | Q(domain__state=DomainState.PENDING, verified_at__gt=now - claim_expiry())
    )
    checked = 0
    for claim in due.select_related("tenant", "domain").order_by("pk"):
        try:
            domain_claim_verify(actor=None, claim=claim, now=now, policy=policy)
        except (ValidationError, ObjectDoesNotExist):
            pass  # not available any more, or gone meanwhile: nothing to retry
        checked += 1
    return checked
