"""What DNS shows now of the records a tenant must publish (domains.dns.publish): each one
through serweb's resolver and from every authoritative server of its zone, so that a stale
cache or a secondary server lagging behind is named as such.

No ORM: the job that runs a check stores the report (``RecordsReport.to_json``), and the
pages read it back. Nothing is cached: every check asks anew.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domains.dns.client import Answer, Client, Status
from domains.dns.policy import DnsPolicy
from domains.dns.publish import Record
from domains.dns.resolution import find_zone, run_dns, txt_values, zone_nameservers, zone_serial

RESOLVER = "serweb's resolver"


class Seen(StrEnum):
    FOUND = "found"
    MISSING = "missing"
    WRONG = "wrong"  # something else is published there
    UNKNOWN = "unknown"  # no answer: says nothing


@dataclass(frozen=True)
class View:
    """One server's answer (or the resolver's) for one record."""

    where: str
    seen: Seen
    found: tuple[str, ...] = ()
    # How long the answer may be kept (a negative one too): how long a cache holds it.
    ttl: int = 0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "seen": str(self.seen),
            "found": list(self.found),
            "ttl": self.ttl,
            "error": self.error,
        }


@dataclass(frozen=True)
class Server:
    host: str
    address: str
    port: int
    serial: int | None

    @property
    def label(self) -> str:
        return f"{self.host} ({self.address})"


@dataclass(frozen=True)
class RecordCheck:
    record: Record
    resolver: View
    servers: tuple[View, ...]
    note: str = ""

    @property
    def seen(self) -> Seen:
        """Found only when every server and the resolver have it; otherwise what the
        authoritative servers say (what the world will see), else the resolver's view."""
        views = [self.resolver, *self.servers]
        if all(view.seen == Seen.FOUND for view in views):
            return Seen.FOUND
        for seen in (Seen.WRONG, Seen.MISSING):
            if any(view.seen == seen for view in self.servers):
                return seen
        if self.resolver.seen != Seen.FOUND:
            return self.resolver.seen
        return Seen.UNKNOWN

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record.to_json(),
            "seen": str(self.seen),
            "resolver": self.resolver.to_json(),
            "servers": [view.to_json() for view in self.servers],
            "note": self.note,
        }


@dataclass
class RecordsReport:
    name: str
    zone: str = ""
    servers: list[Server] = field(default_factory=list)
    checks: list[RecordCheck] = field(default_factory=list)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "zone": self.zone,
            "servers": [
                {"host": s.host, "address": s.address, "port": s.port, "serial": s.serial}
                for s in self.servers
            ],
            "checks": [check.to_json() for check in self.checks],
            "error": self.error,
        }


def _found(record: Record, answer: Answer) -> tuple[str, ...]:
    if record.rdtype == "TXT":
        return tuple(value.decode("ascii", "backslashreplace") for value in txt_values(answer))
    return tuple(f"{r.priority} {r.weight} {r.port} {r.target}." for r in answer.records)


def _seen(record: Record, answer: Answer, siblings: frozenset[tuple[int, str]]) -> Seen:
    if record.rdtype == "SRV":
        # Priority and weight are the tenant's to choose; where it leads is what counts.
        # Beside another expected record of the same name, this one is only missing.
        leads = {(r.port, r.target) for r in answer.records}
        if (record.port, record.target) in leads:
            return Seen.FOUND
        return Seen.MISSING if leads & siblings else Seen.WRONG
    return Seen.FOUND if record.text.encode("ascii") in txt_values(answer) else Seen.WRONG


def compare(
    record: Record, answer: Answer, where: str, siblings: frozenset[tuple[int, str]] = frozenset()
) -> View:
    """What ``answer`` shows of ``record``; ``siblings``: where the other SRV records
    expected at the same name lead."""
    if answer.status == Status.UNKNOWN:
        return View(where, Seen.UNKNOWN, error=answer.error or "no answer")
    if answer.status != Status.ANSWER:
        return View(where, Seen.MISSING, ttl=answer.ttl)
    return View(where, _seen(record, answer, siblings), _found(record, answer), answer.ttl)


def explain(resolver: View, servers: list[View], report: RecordsReport) -> str:
    """Name a stale cache or a lagging secondary when the views disagree."""
    if not servers:
        return ""
    found = [view for view in servers if view.seen == Seen.FOUND]
    if len(found) == len(servers) and resolver.seen in (Seen.MISSING, Seen.WRONG):
        return (
            f"The zone's servers have it; {RESOLVER} still answers from its cache, for at "
            f"most {resolver.ttl} s more: check again then."
        )
    if not found and resolver.seen == Seen.FOUND:
        return (
            f"The zone's servers no longer have it; {RESOLVER} answers from its cache, for "
            f"at most {resolver.ttl} s more."
        )
    if found and len(found) < len(servers):
        serials = {s.label: s.serial for s in report.servers}
        behind = [view.where for view in servers if view.seen != Seen.FOUND]
        newest = max((serials.get(v.where) or 0 for v in found), default=0)
        lagging = ", ".join(
            f"{where} (zone serial {serials.get(where)})" if serials.get(where) else where
            for where in behind
        )
        return (
            f"{lagging} do{'es' if len(behind) == 1 else ''} not have it yet: a secondary "
            f"server that has not caught up with the zone (serial {newest} elsewhere)."
        )
    return ""


async def _zone_of(name: str, policy: DnsPolicy, client: Client | None) -> RecordsReport:
    report = RecordsReport(name)
    async with client or policy.client() as asking:
        zone, error = await find_zone(name, asking)
        if zone is None:
            report.error = error
            return report
        report.zone = zone
        hosts, error = await zone_nameservers(zone, asking, port=policy.authority_port)
        report.error = error
    for host, address, port in hosts:
        serial = await zone_serial(zone, address, port, timeout=policy.timeout)
        report.servers.append(Server(host, address, port, serial))
    return report


async def _check(
    record: Record,
    siblings: frozenset[tuple[int, str]],
    report: RecordsReport,
    policy: DnsPolicy,
    client: Client | None,
) -> RecordCheck:
    async with client or policy.client() as asking:
        answer = await asking.query(record.name, record.rdtype)
    resolver = compare(record, answer, RESOLVER, siblings)
    views = []
    for server in report.servers:
        async with policy.client(((server.address, server.port),)) as direct:
            answer = await direct.query(record.name, record.rdtype)
        views.append(compare(record, answer, server.label, siblings))
    return RecordCheck(record, resolver, tuple(views), explain(resolver, views, report))


def records_check(
    name: str,
    records: list[Record],
    *,
    policy: DnsPolicy | None = None,
    client: Client | None = None,
    progress: Callable[["RecordsReport", int], None] | None = None,
) -> RecordsReport:
    """Each record through the resolver and from each authoritative server, one record
    after the other; ``progress(report so far, number of records)`` after each."""
    policy = policy or DnsPolicy.from_settings()
    report = run_dns(_zone_of(name, policy, client))
    for record in records:
        siblings = frozenset(
            (other.port, other.target)
            for other in records
            if other.name == record.name and other is not record and other.rdtype == "SRV"
        )
        report.checks.append(run_dns(_check(record, siblings, report, policy, client)))
        if progress is not None:
            progress(report, len(records))
    return report
