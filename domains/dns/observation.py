"""Observing a domain in DNS: whether it points at us, the owner's token, the config TXT,
gathered asynchronously into one Observation; and asking the domain's authoritative
servers before a disable. No ORM: the verification services store what is seen."""

import asyncio
import hmac
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domains.dns.client import Answer, Client, Status
from domains.dns.policy import DnsPolicy
from domains.dns.resolution import authoritative_servers, find_zone, txt_values
from domains.dns.sip import ProxyIdentity, SipCheck, TargetCache, Verdict, check_sip_domain


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
class Observation:
    """Everything DNS said about one domain in one check."""

    name: str
    sip: SipCheck
    ownership: Ownership = Ownership.NOT_REQUIRED
    ownership_detail: str = ""
    config: Answer | None = None
    queries: int = 0
    authority: dict[str, Any] | None = None
    # What "us" was for this check: the values a target had to match.
    proxy: ProxyIdentity | None = None

    def outcome(self, policy: DnsPolicy) -> Outcome:
        verdict = self.sip.verdict
        if verdict == Verdict.UNKNOWN:
            return Outcome.UNKNOWN
        if verdict.is_negative:
            return Outcome.NEGATIVE
        if verdict == Verdict.PARTIAL and not policy.allow_partial:
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
        if self.proxy is not None:
            evidence["expected"] = {
                "hostnames": sorted(self.proxy.hostnames),
                "addresses": sorted(self.proxy.addresses),
            }
        return evidence


def _pointing(sip: SipCheck, policy: DnsPolicy) -> bool:
    return sip.verdict == Verdict.OURS or (sip.verdict == Verdict.PARTIAL and policy.allow_partial)


def token_published(values: list[bytes], token: str) -> bool:
    """Whether one of the TXT values is the token; every value compared in constant time."""
    expected = token.encode("ascii")
    found = False
    for value in values:
        found |= hmac.compare_digest(value, expected)
    return found


def observe_literal(name: str, proxy: ProxyIdentity) -> Observation:
    """An IP literal name against ``proxy``'s addresses: ours when it is one of them. No DNS
    question; the caller passes the configured addresses only (SERWEB_PROXY_ADDRESSES),
    not those the proxy host names resolve to, so a DNS outage cannot make a literal
    foreign. Without any configured address nothing can be concluded."""
    address = ipaddress.ip_address(name.strip("[]")).compressed
    if not proxy.addresses:
        reason = "no proxy address is configured (SERWEB_PROXY_ADDRESSES)"
        sip = SipCheck(name, Verdict.UNKNOWN, reason)
    elif address in proxy.addresses:
        sip = SipCheck(name, Verdict.OURS, f"{address} is a proxy address")
    else:
        sip = SipCheck(name, Verdict.FOREIGN, f"{address} is not one of the proxy addresses")
    return Observation(name, sip, proxy=proxy)


async def observe(
    name: str,
    *,
    client: Client,
    targets: TargetCache,
    policy: DnsPolicy,
    token: str | None = None,
    want_config: bool = True,
    records_client: Client | None = None,
) -> Observation:
    """Check ``name``; for a domain that points at us, also its token and its config TXT."""
    sip = await check_sip_domain(
        name, client=client, targets=targets, records_client=records_client
    )
    queries = sip.queries
    if not _pointing(sip, policy):
        return Observation(name, sip, queries=queries, proxy=targets.proxy)
    asking = records_client or client
    ownership, detail = Ownership.NOT_REQUIRED, ""
    if token is not None:
        challenge = await asking.query(f"{policy.challenge_label}.{name}", "TXT")
        queries += 1
        if challenge.status == Status.UNKNOWN:
            ownership, detail = Ownership.UNKNOWN, f"TXT {challenge.name}: {challenge.error}"
        elif token_published(txt_values(challenge), token):
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
    return Observation(name, sip, ownership, detail, config, queries, proxy=targets.proxy)


async def observe_fresh(
    name: str, policy: DnsPolicy, token: str | None, client: Client | None
) -> tuple[Observation, ProxyIdentity]:
    """One check that uses no cache: a new client and new target resolutions."""
    async with client or policy.client() as asking:
        proxy = await policy.proxy.with_hostname_addresses(asking)
        targets = TargetCache(proxy)
        return await observe(
            name, client=asking, targets=targets, policy=policy, token=token
        ), proxy


async def observe_names_fresh(
    names: list[tuple[str, bool]], policy: DnsPolicy, token: str | None, client: Client | None
) -> tuple[list[Observation], ProxyIdentity]:
    """``observe_fresh`` of every host name of one domain, given as (name, canonical): the
    targets resolved once for all; the owner's token and the config TXT are looked for at
    the canonical name only (attributes come from one place: the domain's own name)."""
    async with client or policy.client() as asking:
        proxy = await policy.proxy.with_hostname_addresses(asking)
        targets = TargetCache(proxy)
        seen = await asyncio.gather(
            *(
                observe(
                    name,
                    client=asking,
                    targets=targets,
                    policy=policy,
                    token=token if canonical else None,
                    want_config=canonical,
                )
                for name, canonical in names
            )
        )
        return list(seen), proxy


async def observe_within(
    name: str, policy: DnsPolicy, client: Client | None, within: float | None
) -> tuple[Observation, ProxyIdentity]:
    """``observe_fresh`` without an owner's token; UNKNOWN when not done ``within`` seconds."""
    check = observe_fresh(name, policy, None, client)
    if within is None:
        return await check
    try:
        return await asyncio.wait_for(check, within)
    except TimeoutError:
        reason = f"DNS gave no answer within {within:g} s"
        return Observation(name, SipCheck(name, Verdict.UNKNOWN, reason)), policy.proxy


async def confirm_with_authority(
    name: str,
    *,
    client: Client,
    proxy: ProxyIdentity,
    policy: DnsPolicy,
    token: str | None,
) -> tuple[bool, dict[str, Any]]:
    """Ask the domain's own authoritative servers: is it still negative there?

    A stale or broken resolver cache must not disable a domain (DNS.md).
    """
    zone, error = await find_zone(name, client)
    if zone is None:
        return False, {"confirmed": False, "error": error}
    servers, error = await authoritative_servers(zone, client, port=policy.authority_port)
    if not servers:
        return False, {"confirmed": False, "zone": zone, "error": error}
    async with policy.client(tuple(servers)) as authority:
        seen = await observe(
            name,
            client=client,
            targets=TargetCache(proxy),
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


async def confirm_fresh(
    name: str,
    *,
    policy: DnsPolicy,
    proxy: ProxyIdentity,
    token: str | None,
    client: Client | None,
) -> tuple[bool, dict[str, Any]]:
    """``confirm_with_authority`` through ``client``, or a new client of the policy's."""
    async with client or policy.client() as asking:
        return await confirm_with_authority(
            name, client=asking, proxy=proxy, policy=policy, token=token
        )
