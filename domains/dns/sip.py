"""Whether a SIP domain points at our proxies (RFC 3263, RFC 2782): NAPTR, SRV, the
targets' addresses, and a verdict.

No ORM, no settings and no dnspython: questions go through a client (domains.dns.client,
domains.dns.resolution), and the answers come back as dataclasses that the verification
services store as evidence. UNKNOWN is any transient failure on the way: it concludes
nothing.
"""

import asyncio
import dataclasses
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domains.dns.client import Answer, Client, Status

# RFC 3263 §4.1: the NAPTR services a SIP client may use, and where to look for SRV
# records without NAPTR (most secure transport first).
SIP_NAPTR_SERVICES = ("SIP+D2U", "SIP+D2T", "SIPS+D2T")
SIP_SRV_PREFIXES = ("_sips._tcp", "_sip._tcp", "_sip._udp")
SIP_DEFAULT_PORT = 5060


class Verdict(StrEnum):
    OURS = "ours"  # every usable target is one of our proxies
    PARTIAL = "partial"  # some are
    FOREIGN = "foreign"  # none is
    UNAVAILABLE = "unavailable"  # SRV target "." only: SIP deliberately not offered
    ABSENT = "absent"  # nothing published (or the domain does not exist)
    UNKNOWN = "unknown"  # a transient failure on the way: no conclusion

    @property
    def is_negative(self) -> bool:
        return self in (Verdict.FOREIGN, Verdict.UNAVAILABLE, Verdict.ABSENT)


class CountingClient:
    """Counts one domain's questions (retries not included) when domains share a client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.queries = 0

    async def query(self, name: str, rdtype: str) -> Answer:
        self.queries += 1
        return await self.client.query(name, rdtype)


# --- "points at us" ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyIdentity:
    """What "us" is: our proxies' host names and addresses."""

    hostnames: frozenset[str]
    addresses: frozenset[str]

    @classmethod
    def build(cls, hostnames: Iterable[str], addresses: Iterable[str]) -> "ProxyIdentity":
        return cls(
            frozenset(h.strip().lower().rstrip(".") for h in hostnames if h.strip()),
            frozenset(ipaddress.ip_address(a.strip().strip("[]")).compressed for a in addresses),
        )

    async def with_hostname_addresses(self, client: Client) -> "ProxyIdentity":
        """Add the addresses our host names resolve to; asked once per run, not per domain."""
        found: set[str] = set()
        for hostname in sorted(self.hostnames):
            for rdtype in ("A", "AAAA"):
                answer = await client.query(hostname, rdtype)
                if answer.status == Status.ANSWER:
                    found.update(answer.records)
        return ProxyIdentity(self.hostnames, self.addresses | found)


@dataclass(frozen=True)
class TargetCheck:
    name: str
    port: int
    status: Status  # UNKNOWN when its addresses could not be learnt
    ours: bool = False
    usable: bool = False  # has addresses (or is one of our host names)
    addresses: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()
    reason: str = ""

    def to_evidence(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "port": self.port,
            "ours": self.ours,
            "usable": self.usable,
            "reason": self.reason,
        }
        if self.addresses:
            shown["addresses"] = list(self.addresses)
        if self.cnames:
            shown["cnames"] = list(self.cnames)
        return shown


class TargetCache:
    """Target resolutions shared by every domain of one run: thousands of domains point
    at the same few hosts. Bounded, so a long run keeps a flat memory profile."""

    def __init__(self, proxy: ProxyIdentity, *, max_entries: int = 50_000) -> None:
        self.proxy = proxy
        self.max_entries = max_entries
        self._done: dict[str, tuple[TargetCheck, list[str]]] = {}
        self._pending: dict[str, asyncio.Future] = {}

    async def check(self, name: str, client: Client) -> tuple[TargetCheck, list[str]]:
        """The target's check, and the warnings that go with it."""
        if name in self._done:
            return self._done[name]
        pending = self._pending.get(name)
        if pending is not None and pending.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._pending[name] = future
        try:
            result = await resolve_target(name, client, self.proxy)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._pending.pop(name, None)
        future.set_result(result)
        if len(self._done) >= self.max_entries:
            self._done.clear()
        self._done[name] = result
        return result


async def resolve_target(
    name: str, client: Client, proxy: ProxyIdentity, port: int = 0
) -> tuple[TargetCheck, list[str]]:
    if name in proxy.hostnames:
        return TargetCheck(name, port, Status.ANSWER, True, True, reason="a proxy host name"), []
    warnings: list[str] = []
    addresses: list[str] = []
    cnames: tuple[str, ...] = ()
    for rdtype in ("A", "AAAA"):
        answer = await client.query(name, rdtype)
        if answer.status == Status.UNKNOWN:
            reason = f"{rdtype}: {answer.error or 'no answer'}"
            return TargetCheck(name, port, Status.UNKNOWN, reason=reason), warnings
        cnames = cnames or answer.cnames
        if answer.cnames and answer.cnames[-1] in proxy.hostnames:
            warnings.append(f"{name} is a CNAME (RFC 2782 forbids that for SRV targets)")
            return (
                TargetCheck(
                    name,
                    port,
                    Status.ANSWER,
                    True,
                    True,
                    cnames=answer.cnames,
                    reason=f"an alias of the proxy host name {answer.cnames[-1]}",
                ),
                warnings,
            )
        addresses.extend(answer.records)
        foreign = [a for a in answer.records if a not in proxy.addresses]
        if foreign:
            # One foreign address is enough: the AAAA answer cannot change that.
            break
    if cnames:
        warnings.append(f"{name} is a CNAME (RFC 2782 forbids that for SRV targets)")
    if not addresses:
        return TargetCheck(name, port, Status.NODATA, cnames=cnames, reason="no address"), warnings
    foreign = [a for a in addresses if a not in proxy.addresses]
    if foreign:
        reason = f"not our address: {', '.join(foreign)}"
    else:
        reason = "every address is a proxy address"
    return (
        TargetCheck(
            name,
            port,
            Status.ANSWER,
            not foreign,
            True,
            tuple(addresses),
            cnames,
            reason,
        ),
        warnings,
    )


@dataclass(frozen=True)
class SipCheck:
    """What "does ``domain`` point at us" saw, and the verdict."""

    domain: str
    verdict: Verdict
    reason: str
    naptr: Answer | None = None
    srv: tuple[Answer, ...] = ()
    targets: tuple[TargetCheck, ...] = ()
    # No SRV at all: the domain's own A/AAAA records were used (RFC 3263 §4.2).
    address_fallback: bool = False
    warnings: tuple[str, ...] = ()
    queries: int = 0
    # How long, in seconds, the shortest-lived answer used may be kept.
    ttl: int = 0

    @property
    def matched(self) -> list[str]:
        return [t.name for t in self.targets if t.ours]

    def to_evidence(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "naptr": self.naptr.to_evidence() if self.naptr else None,
            "srv": [a.to_evidence() for a in self.srv],
            "targets": [t.to_evidence() for t in self.targets],
            "matched": self.matched,
            "address_fallback": self.address_fallback,
            "warnings": list(self.warnings),
            "queries": self.queries,
            "ttl": self.ttl,
        }


def _srv_names_from_naptr(answer: Answer) -> list[str]:
    """RFC 3263 §4.1: "s" records of the SIP services, by order then preference."""
    names: list[str] = []
    for record in answer.records:
        if record.flags == "s" and record.service in SIP_NAPTR_SERVICES:
            if record.replacement not in names and record.replacement != ".":
                names.append(record.replacement)
    return names


def _ttl(answers: Iterable[Answer]) -> int:
    ttls = [a.ttl for a in answers if a.status != Status.UNKNOWN]
    return min(ttls) if ttls else 0


async def check_sip_domain(
    domain: str,
    *,
    client: Client,
    targets: TargetCache,
    records_client: Client | None = None,
) -> SipCheck:
    """RFC 3263 for a bare domain: NAPTR, then SRV, then A/AAAA; then whose are the targets.

    ``records_client`` asks for the domain's own NAPTR and SRV records (e.g. straight from
    its authoritative servers); targets are always resolved through ``client``.
    """
    counting = CountingClient(client)
    records = CountingClient(records_client) if records_client is not None else counting
    warnings: list[str] = []

    def done(verdict: Verdict, reason: str, **parts: Any) -> SipCheck:
        used = [a for a in [parts.get("naptr"), *parts.get("srv", ())] if a is not None]
        return SipCheck(
            domain,
            verdict,
            reason,
            warnings=tuple(dict.fromkeys(warnings)),
            queries=counting.queries + (records.queries if records is not counting else 0),
            ttl=_ttl(used),
            **parts,
        )

    naptr = await records.query(domain, "NAPTR")
    if naptr.status == Status.UNKNOWN:
        return done(Verdict.UNKNOWN, f"NAPTR: {naptr.error or 'no answer'}", naptr=naptr)
    if naptr.status == Status.NXDOMAIN:
        return done(Verdict.ABSENT, "the domain does not exist (NXDOMAIN)", naptr=naptr)
    srv_names = _srv_names_from_naptr(naptr)
    if naptr.records and not srv_names:
        warnings.append("NAPTR records without a SIP service: ignored")
    if not srv_names:
        srv_names = [f"{prefix}.{domain}" for prefix in SIP_SRV_PREFIXES]
    srv = tuple(await asyncio.gather(*(records.query(n, "SRV") for n in srv_names)))
    unknown = [a for a in srv if a.status == Status.UNKNOWN]
    if unknown:
        return done(
            Verdict.UNKNOWN, f"SRV {unknown[0].name}: {unknown[0].error}", naptr=naptr, srv=srv
        )
    found = [r for a in srv if a.status == Status.ANSWER for r in a.records]
    if not found:
        return await _address_fallback(domain, counting, targets, naptr, srv, done)
    usable_srv = [r for r in found if r.target != "."]
    if not usable_srv:
        return done(
            Verdict.UNAVAILABLE,
            'SRV target "." only: SIP is deliberately not offered (RFC 2782)',
            naptr=naptr,
            srv=srv,
        )
    ports: dict[str, int] = {}
    for record in usable_srv:
        ports.setdefault(record.target, record.port)
    results = await asyncio.gather(*(targets.check(name, counting) for name in ports))
    checks = []
    for (check, target_warnings), (name, port) in zip(results, ports.items(), strict=True):
        checks.append(dataclasses.replace(check, name=name, port=port))
        warnings.extend(target_warnings)
    return _targets_verdict(tuple(checks), naptr, srv, done)


async def _address_fallback(domain, client, targets, naptr, srv, done) -> SipCheck:
    """RFC 3263 §4.2: without SRV records, the domain's own addresses, port 5060."""
    check, target_warnings = await targets.check(domain, client)
    check = dataclasses.replace(check, port=SIP_DEFAULT_PORT)
    if check.status == Status.UNKNOWN:
        return done(
            Verdict.UNKNOWN,
            f"{domain}: {check.reason}",
            naptr=naptr,
            srv=srv,
            targets=(check,),
            address_fallback=True,
        )
    if not check.usable:
        return done(
            Verdict.ABSENT,
            "no NAPTR, no SRV and no address records",
            naptr=naptr,
            srv=srv,
            targets=(check,),
            address_fallback=True,
        )
    return _targets_verdict((check,), naptr, srv, done, address_fallback=True)


def _targets_verdict(checks, naptr, srv, done, *, address_fallback: bool = False) -> SipCheck:
    parts = {"naptr": naptr, "srv": srv, "targets": checks, "address_fallback": address_fallback}
    unknown = [c for c in checks if c.status == Status.UNKNOWN]
    if unknown:
        return done(Verdict.UNKNOWN, f"target {unknown[0].name}: {unknown[0].reason}", **parts)
    usable = [c for c in checks if c.usable]
    if not usable:
        return done(Verdict.ABSENT, "no SRV target has an address", **parts)
    ours = [c for c in usable if c.ours]
    if len(ours) == len(usable):
        return done(Verdict.OURS, f"points at us: {', '.join(c.name for c in ours)}", **parts)
    foreign = ", ".join(c.name for c in usable if not c.ours)
    if ours:
        return done(Verdict.PARTIAL, f"some targets are not ours: {foreign}", **parts)
    return done(Verdict.FOREIGN, f"points elsewhere: {foreign}", **parts)
