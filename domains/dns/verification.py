"""DNS verification of domains: does it point at us, who owns it, what it asks for.

Services in the sense of services.py: every write to a domain (state, attributes, creation)
goes through domains.services, which audits it and sends ``domains_changed``; this module
adds the DNS observations, the lifecycle decisions and their evidence. The DNS work itself
is in domains.dns. DNS.md has the policy this implements.
"""

import asyncio
import hmac
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from domains import dns
from domains.dns_attributes import AttributeImport, import_dns_attributes
from domains.models import (
    Domain,
    DomainCheck,
    DomainClaim,
    DomainName,
    DomainOrigin,
    DomainState,
    DomainTransition,
    HousekeepingRun,
    Tenant,
)
from domains.names import HostName, NameKind, normalize_host
from domains.selectors import DomainNotFound
from domains.services import (
    Actor,
    domain_create,
    domain_lock,
    domain_set_state,
)

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What a verdict means for the lifecycle."""

    POSITIVE = "positive"  # points at us (and the owner's token is there where needed)
    NEGATIVE = "negative"  # definitely does not
    NEUTRAL = "neutral"  # partly points at us, where that is not allowed: no change
    UNKNOWN = "unknown"  # DNS did not answer: no change


class Ownership(StrEnum):
    NOT_REQUIRED = ""
    PROVEN = "proven"
    MISSING = "missing"
    UNKNOWN = "unknown"


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

    @classmethod
    def from_settings(cls) -> "DnsPolicy":
        configured = settings.SERWEB_DNS_NAMESERVERS
        nameservers = (
            [dns.parse_nameserver(ns) for ns in configured]
            if configured
            else dns.system_nameservers()
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
        )

    @property
    def challenge_label(self) -> str:
        return f"_{self.label}-challenge"

    @property
    def config_label(self) -> str:
        return f"_{self.label}-config"

    @property
    def proxy(self) -> dns.ProxyIdentity:
        return dns.ProxyIdentity.build(self.proxy_hostnames, self.proxy_addresses)

    @property
    def slots(self) -> int:
        """Housekeeping spreads the domains over this many runs per check interval."""
        return max(1, int(self.check_interval / self.housekeeping_every))

    def client(self, nameservers: tuple[tuple[str, int], ...] | None = None) -> dns.UdpClient:
        return dns.UdpClient(
            nameservers or self.nameservers, timeout=self.timeout, lifetime=self.lifetime
        )


# --- names serweb never serves ----------------------------------------------------------


def reserved_suffix(name: str, policy: DnsPolicy) -> str | None:
    """The reserved suffix ``name`` falls under, matched on whole labels."""
    for suffix in policy.reserved_suffixes:
        if name == suffix or name.endswith("." + suffix):
            return suffix
    return None


def _parent_names(name: str) -> list[str]:
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def not_available(name: str) -> str:
    """The refusal a tenant gets for a name someone else holds or may hold: it does not
    tell who holds what."""
    return f"{name} is not available; ask the operator"


def claimable_host(raw: str, *, tenant: Tenant | None, policy: DnsPolicy) -> HostName:
    """A name a tenant (or DNS auto-learning, ``tenant=None``) may ask serweb to serve.

    Refused: IP literals, reserved suffixes, and names under a domain of another tenant
    (under any tenant's domain when learnt from DNS, and the refusal says so to the
    operator; a tenant is told only that the name is not available).
    """
    host = normalize_host(raw)
    if host.is_ip:
        raise ValidationError(f"{host.value}: an IP address cannot be verified in DNS")
    suffix = reserved_suffix(host.value, policy)
    if suffix is not None:
        raise ValidationError(f"{host.value}: names under .{suffix} are never served")
    parents = DomainName.objects.filter(name__in=_parent_names(host.value)).select_related(
        "domain__tenant"
    )
    for parent in parents:
        owner = parent.domain.tenant
        if owner is not None and tenant is None:
            raise ValidationError(
                f"{host.value} is under {parent.name}, a domain of another tenant; "
                "only its owner can add names under it"
            )
        if owner is not None and owner.pk != tenant.pk:
            raise ValidationError(not_available(host.value))
    return host


# --- observing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """Everything DNS said about one domain in one check."""

    name: str
    sip: dns.SipCheck
    ownership: Ownership = Ownership.NOT_REQUIRED
    ownership_detail: str = ""
    config: dns.Answer | None = None
    queries: int = 0
    authority: dict[str, Any] | None = None

    def outcome(self, policy: DnsPolicy) -> Outcome:
        verdict = self.sip.verdict
        if verdict == dns.Verdict.UNKNOWN:
            return Outcome.UNKNOWN
        if verdict.is_negative:
            return Outcome.NEGATIVE
        if verdict == dns.Verdict.PARTIAL and not policy.allow_partial:
            return Outcome.NEUTRAL
        if self.ownership == Ownership.UNKNOWN:
            return Outcome.UNKNOWN
        if self.ownership == Ownership.MISSING:
            return Outcome.NEGATIVE
        return Outcome.POSITIVE

    @property
    def reason(self) -> str:
        if self.ownership == Ownership.MISSING and not self.sip.verdict.is_negative:
            return f"{self.sip.reason}; {self.ownership_detail}"
        return self.sip.reason

    def to_evidence(self) -> dict[str, Any]:
        evidence = self.sip.to_evidence()
        evidence["queries"] = self.queries
        if self.ownership:
            evidence["ownership"] = {"status": str(self.ownership), "detail": self.ownership_detail}
        if self.config is not None:
            evidence["config"] = self.config.to_evidence()
        if self.authority is not None:
            evidence["authority"] = self.authority
        return evidence


def _pointing(sip: dns.SipCheck, policy: DnsPolicy) -> bool:
    return sip.verdict == dns.Verdict.OURS or (
        sip.verdict == dns.Verdict.PARTIAL and policy.allow_partial
    )


def token_published(values: list[bytes], token: str) -> bool:
    """Whether one of the TXT values is the token; every value compared in constant time."""
    expected = token.encode("ascii")
    found = False
    for value in values:
        found |= hmac.compare_digest(value, expected)
    return found


async def observe(
    name: str,
    *,
    client: dns.Client,
    targets: dns.TargetCache,
    policy: DnsPolicy,
    token: str | None = None,
    want_config: bool = True,
    records_client: dns.Client | None = None,
) -> Observation:
    """Check ``name``; for a domain that points at us, also its token and its config TXT."""
    sip = await dns.check_sip_domain(
        name, client=client, targets=targets, records_client=records_client
    )
    queries = sip.queries
    if not _pointing(sip, policy):
        return Observation(name, sip, queries=queries)
    asking = records_client or client
    ownership, detail = Ownership.NOT_REQUIRED, ""
    if token is not None:
        challenge = await asking.query(f"{policy.challenge_label}.{name}", "TXT")
        queries += 1
        if challenge.status == dns.Status.UNKNOWN:
            ownership, detail = Ownership.UNKNOWN, f"TXT {challenge.name}: {challenge.error}"
        elif token_published(dns.txt_values(challenge), token):
            ownership, detail = Ownership.PROVEN, f"the owner's token is in TXT {challenge.name}"
        else:
            ownership, detail = (
                Ownership.MISSING,
                f"the owner's token is not in TXT {challenge.name}",
            )
    config = None
    if want_config and policy.import_attributes:
        config = await asking.query(f"{policy.config_label}.{name}", "TXT")
        queries += 1
    return Observation(name, sip, ownership, detail, config, queries)


async def _observe_fresh(
    name: str, policy: DnsPolicy, token: str | None, client: dns.Client | None
) -> tuple[Observation, dns.ProxyIdentity]:
    """One check that uses no cache: a new client and new target resolutions."""
    async with client or policy.client() as asking:
        proxy = await policy.proxy.with_hostname_addresses(asking)
        targets = dns.TargetCache(proxy)
        return await observe(
            name, client=asking, targets=targets, policy=policy, token=token
        ), proxy


async def _observe_within(
    name: str, policy: DnsPolicy, client: dns.Client | None, within: float | None
) -> tuple[Observation, dns.ProxyIdentity]:
    check = _observe_fresh(name, policy, None, client)
    if within is None:
        return await check
    try:
        return await asyncio.wait_for(check, within)
    except TimeoutError:
        reason = f"DNS gave no answer within {within:g} s"
        return Observation(name, dns.SipCheck(name, dns.Verdict.UNKNOWN, reason)), policy.proxy


async def confirm_with_authority(
    name: str,
    *,
    client: dns.Client,
    proxy: dns.ProxyIdentity,
    policy: DnsPolicy,
    token: str | None,
) -> tuple[bool, dict[str, Any]]:
    """Ask the domain's own authoritative servers: is it still negative there?

    A stale or broken resolver cache must not disable a domain (DNS.md).
    """
    zone, error = await dns.find_zone(name, client)
    if zone is None:
        return False, {"confirmed": False, "error": error}
    servers, error = await dns.authoritative_servers(zone, client, port=policy.authority_port)
    if not servers:
        return False, {"confirmed": False, "zone": zone, "error": error}
    async with policy.client(tuple(servers)) as authority:
        seen = await observe(
            name,
            client=client,
            targets=dns.TargetCache(proxy),
            policy=policy,
            token=token,
            want_config=False,
            records_client=authority,
        )
    confirmed = seen.outcome(policy) == Outcome.NEGATIVE
    return confirmed, {
        "confirmed": confirmed,
        "zone": zone,
        "servers": [f"{address}:{port}" for address, port in servers],
        "verdict": str(seen.sip.verdict),
        "reason": seen.reason,
    }


# --- the lifecycle --------------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    negatives: int = 0
    first_negative_at: datetime | None = None
    last_negative_at: datetime | None = None

    @classmethod
    def of(cls, check: DomainCheck) -> "Counters":
        return cls(check.negatives, check.first_negative_at, check.last_negative_at)

    def counted(self, now: datetime, spacing: timedelta) -> "Counters":
        """One more negative, unless the last counted one is more recent than ``spacing``."""
        if self.last_negative_at is not None and now - self.last_negative_at < spacing:
            return self
        return Counters(self.negatives + 1, self.first_negative_at or now, now)


@dataclass(frozen=True)
class Decision:
    to_state: str | None
    counters: Counters
    # SUSPECT -> DISABLED waits for the domain's authoritative servers to agree.
    needs_authority: bool = False
    note: str = ""


def decide(
    *,
    state: str,
    state_changed_at: datetime,
    counters: Counters,
    outcome: Outcome,
    now: datetime,
    policy: DnsPolicy,
) -> Decision:
    """The lifecycle of DNS.md as a pure function of the current state and one outcome."""
    if outcome == Outcome.POSITIVE:
        back = state in (DomainState.PENDING, DomainState.SUSPECT, DomainState.DISABLED)
        return Decision(DomainState.ACTIVE if back else None, Counters())
    if outcome != Outcome.NEGATIVE:
        return Decision(None, counters)
    counted = counters.counted(now, policy.negative_spacing)
    if state == DomainState.ACTIVE:
        return Decision(DomainState.SUSPECT, counted)
    if state == DomainState.SUSPECT:
        assert counted.first_negative_at is not None
        enough = counted.negatives >= policy.negatives_to_disable
        old_enough = now - counted.first_negative_at >= policy.disable_grace
        if enough and old_enough:
            return Decision(DomainState.DISABLED, counted, needs_authority=True)
        return Decision(
            None,
            counted,
            note=f"{counted.negatives} of {policy.negatives_to_disable} negatives counted",
        )
    if state == DomainState.DISABLED and now - state_changed_at >= policy.remove_grace:
        return Decision(DomainState.REMOVED, counted)
    return Decision(None, counted)


def disable_earliest_at(counters: Counters, policy: DnsPolicy, now: datetime) -> datetime | None:
    """For a suspect domain: the first moment from ``now`` on when a negative check could
    disable it under ``decide`` (the negatives still missing counted a spacing apart, the
    first negative old enough), if its authoritative servers agree then; None before any
    negative."""
    if counters.first_negative_at is None or counters.last_negative_at is None:
        return None
    missing = policy.negatives_to_disable - counters.negatives
    enough_at = now
    if missing > 0:
        next_counted = max(counters.last_negative_at + policy.negative_spacing, now)
        enough_at = next_counted + (missing - 1) * policy.negative_spacing
    return max(enough_at, counters.first_negative_at + policy.disable_grace)


# What record_observation writes on a DomainCheck.
OBSERVATION_FIELDS = (
    "verdict",
    "outcome",
    "reason",
    "evidence",
    "checked_at",
    "expires_at",
    "unknowns",
    "last_positive_at",
)


def record_observation(
    check: DomainCheck, seen: Observation, outcome: Outcome, now: datetime
) -> list[str]:
    """Put one observation on the domain's check row; the fields changed."""
    check.verdict = str(seen.sip.verdict)
    check.outcome = str(outcome)
    check.reason = seen.reason[:255]
    check.evidence = seen.to_evidence()
    check.checked_at = now
    check.expires_at = now + timedelta(seconds=seen.sip.ttl)
    if outcome == Outcome.UNKNOWN:
        check.unknowns += 1
    else:
        check.unknowns = 0
    if outcome == Outcome.POSITIVE:
        check.last_positive_at = now
    return list(OBSERVATION_FIELDS)


COUNTER_FIELDS = ["negatives", "first_negative_at", "last_negative_at"]


def apply_counters(check: DomainCheck, counters: Counters) -> None:
    check.negatives = counters.negatives
    check.first_negative_at = counters.first_negative_at
    check.last_negative_at = counters.last_negative_at


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
) -> DomainTransition:
    """Move a domain through the lifecycle, keeping the evidence that made it move."""
    from_state = domain.state
    domain_set_state(actor=actor, domain=domain, state=to_state)
    return DomainTransition.objects.create(
        domain=domain,
        from_state=from_state,
        to_state=to_state,
        verdict=verdict,
        reason=reason[:255],
        evidence=evidence,
        run=run,
        created_at=now or timezone.now(),
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

    @property
    def verdict(self) -> dns.Verdict:
        return self.observation.sip.verdict


def checked_name(domain: Domain) -> str:
    """The name DNS verification looks at: the canonical name (a host name)."""
    for name in domain.names.all():
        if name.is_canonical and name.kind == NameKind.HOSTNAME:
            return name.name
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
    client: dns.Client | None = None,
) -> Verification:
    """Check the domain in DNS now (no cache), record what was seen and apply the lifecycle."""
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    name = checked_name(domain)
    token = ownership_token(domain)
    seen, proxy = dns.run(_observe_fresh(name, policy, token, client))
    return conclude(
        actor=actor, domain=domain, seen=seen, proxy=proxy, now=now, policy=policy, client=client
    )


def conclude(
    *,
    actor: Actor,
    domain: Domain,
    seen: Observation,
    proxy: dns.ProxyIdentity,
    now: datetime,
    policy: DnsPolicy,
    client: dns.Client | None = None,
    run: HousekeepingRun | None = None,
) -> Verification:
    """Record an observation of one domain and apply the transition it calls for.

    Raises DomainNotFound when the domain was deleted meanwhile.
    """
    outcome = seen.outcome(policy)
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
        confirmed, authority = dns.run(
            _confirm(
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
        if decision.needs_authority and not confirmed:
            note = (
                "not disabled: the authoritative servers disagree"
                if confirmed is False
                else "not disabled yet: the domain changed during the check"
            )
            decision = replace(decision, to_state=None, note=note)
        from_state = domain.state
        fields = record_observation(check, seen, outcome, now)
        apply_counters(check, decision.counters)
        check.save(update_fields=fields + COUNTER_FIELDS)
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


async def _confirm(
    name: str,
    *,
    policy: DnsPolicy,
    proxy: dns.ProxyIdentity,
    token: str | None,
    client: dns.Client | None,
) -> tuple[bool, dict[str, Any]]:
    async with client or policy.client() as asking:
        return await confirm_with_authority(
            name, client=asking, proxy=proxy, policy=policy, token=token
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
    *, name: str, policy: DnsPolicy | None = None, client: dns.Client | None = None
) -> Observation:
    """Look at any name in DNS now, recording nothing (for a name serweb does not serve)."""
    policy = policy or DnsPolicy.from_settings()
    host = normalize_host(name)
    if host.is_ip:
        raise ValidationError(f"{host.value}: an IP address cannot be verified in DNS")
    seen, _proxy = dns.run(_observe_fresh(host.value, policy, None, client))
    return seen


def domain_restore(*, actor: Actor, domain: Domain, **options: Any) -> Verification:
    """Bring a removed domain back for verification: active again if DNS points at us."""
    if domain.state != DomainState.REMOVED:
        raise ValidationError(f"domain {domain.did} is {domain.state}, not removed")
    domain_set_state(actor=actor, domain=domain, state=DomainState.PENDING)
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
    client: dns.Client | None = None,
    within: float | None = None,
) -> tuple[Domain | None, Observation]:
    """Create a domain for ``name`` when auto-learning is on and DNS points it at us.

    ``within``: seconds the whole DNS check may take; one not done by then is unknown."""
    policy = policy or DnsPolicy.from_settings()
    now = now or timezone.now()
    host = claimable_host(name, tenant=None, policy=policy)
    seen, proxy = dns.run(_observe_within(host.value, policy, client, within))
    if not policy.auto_learn or seen.outcome(policy) != Outcome.POSITIVE:
        return None, seen
    with transaction.atomic():
        domain = domain_create(
            actor=None, name=host.value, state=DomainState.PENDING, origin=DomainOrigin.DNS
        )
        conclude(actor=None, domain=domain, seen=seen, proxy=proxy, now=now, policy=policy)
    return domain, seen


def breaker_threshold(checked: int, policy: DnsPolicy) -> int:
    """The most domains one run may turn negative before the circuit breaker holds them."""
    return max(math.ceil(checked * policy.breaker_percent / 100), policy.breaker_minimum)
