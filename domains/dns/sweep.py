"""The DNS work of a housekeeping run: what "us" resolves to, the canaries, a chunk's
observations (the targets shared by every name of the run) and the authoritative servers'
confirmations. No ORM: domains.dns.housekeeping records what comes back."""

import asyncio
from collections.abc import Callable
from typing import Any

from domains.dns.observation import Observation, confirm_with_authority, observe
from domains.dns.policy import DnsPolicy
from domains.dns.sip import ProxyIdentity, TargetCache, Verdict, check_sip_domain
from domains.dns.slots import Row

ClientFactory = Callable[[], Any]


async def observe_chunk(
    rows: list[Row],
    *,
    client_factory: ClientFactory,
    targets: TargetCache,
    policy: DnsPolicy,
) -> list[Observation]:
    limit = asyncio.Semaphore(policy.concurrency)
    async with client_factory() as client:

        async def one(row: Row) -> Observation:
            async with limit:
                # Attributes come from the domain's own name: the config TXT is read at
                # the canonical name only.
                return await observe(
                    row.name,
                    client=client,
                    targets=targets,
                    policy=policy,
                    token=row.token,
                    want_config=row.canonical,
                )

        return list(await asyncio.gather(*(one(row) for row in rows)))


async def check_canaries(
    policy: DnsPolicy, client_factory: ClientFactory, proxy: ProxyIdentity
) -> str:
    """Why the canaries say the run must stop; empty when they all point at us."""
    async with client_factory() as client:
        targets = TargetCache(proxy)
        checks = await asyncio.gather(
            *(check_sip_domain(n, client=client, targets=targets) for n in policy.canaries)
        )
    failed = [c for c in checks if c.verdict != Verdict.OURS]
    return "; ".join(f"canary {c.domain}: {c.verdict} ({c.reason})" for c in failed)


async def proxy_identity(policy: DnsPolicy, client_factory: ClientFactory) -> ProxyIdentity:
    async with client_factory() as client:
        return await policy.proxy.with_hostname_addresses(client)


async def confirm_names(
    asked: list[tuple[str, str | None]],
    *,
    client_factory: ClientFactory,
    proxy: ProxyIdentity,
    policy: DnsPolicy,
) -> list[tuple[bool, dict[str, Any]]]:
    """For each (name, owner's token): whether its authoritative servers agree it is
    negative, and what they said."""
    limit = asyncio.Semaphore(policy.concurrency)
    async with client_factory() as client:

        async def one(name: str, token: str | None) -> tuple[bool, dict[str, Any]]:
            async with limit:
                return await confirm_with_authority(
                    name, client=client, proxy=proxy, policy=policy, token=token
                )

        return list(await asyncio.gather(*(one(name, token) for name, token in asked)))
