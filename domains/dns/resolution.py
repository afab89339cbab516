"""Asking DNS: dnspython's resolver as a client, the nameservers, zones and their
authoritative servers, TXT values, and running DNS work from synchronous code.

The only module of serweb that imports dnspython. No ORM and no settings: callers pass
names and a client in and get values back. Questions go through a client: the lean
UdpClient of domains.dns.client (bulk work) or ResolverClient around dnspython's asyncio
resolver; both are injectable.

Negative evidence is NXDOMAIN and NODATA, nothing else. SERVFAIL, REFUSED, timeouts,
network errors, referrals and malformed answers are unknown: they say nothing about the
domain and must never change its state.
"""

import asyncio
import ipaddress
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from domains.dns.client import (
    DEFAULT_PORT,
    EDNS_PAYLOAD,
    Answer,
    Client,
    Status,
    server_text,
    sorted_records,
)
from domains.dns.wire import Naptr, Srv

# --- names and nameservers ------------------------------------------------------------


def to_text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower() or "."


def parse_nameserver(text: str) -> tuple[str, int]:
    """``address``, ``address:port``, ``[v6]:port`` or a bare IPv6 address."""
    raw = text.strip()
    host, port = raw, DEFAULT_PORT
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [IPv6]:PORT")
        if rest:
            port = _port(rest[1:], text)
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text, text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: a nameserver must be an IP address") from None
    return address.compressed, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: bad port {text!r}")
    return int(text)


def system_nameservers() -> list[tuple[str, int]]:
    """The nameservers of /etc/resolv.conf (the system resolver)."""
    system = dns.resolver.Resolver(configure=True)
    return [parse_nameserver(str(ns)) for ns in system.nameservers]


# --- the stock resolver, injectable ---------------------------------------------------


def _records(rrset: Any, rdtype: str) -> tuple[Any, ...]:
    """A dnspython RRset as the values the checks read."""
    if rdtype == "SRV":
        values: Iterable[Any] = (
            Srv(r.priority, r.weight, r.port, to_text(r.target)) for r in rrset
        )
    elif rdtype == "NAPTR":
        values = (
            Naptr(
                r.order,
                r.preference,
                r.flags.decode("ascii", "replace").lower(),
                r.service.decode("ascii", "replace").upper(),
                r.regexp.decode("ascii", "replace"),
                to_text(r.replacement),
            )
            for r in rrset
        )
    elif rdtype in ("A", "AAAA"):
        values = (r.address for r in rrset)
    elif rdtype == "TXT":
        values = (tuple(r.strings) for r in rrset)
    else:
        values = (to_text(r.target) if hasattr(r, "target") else r.to_text() for r in rrset)
    return sorted_records(rdtype, values)


def stock_resolver(
    nameservers: Sequence[tuple[str, int]], *, timeout: float = 2.0
) -> dns.asyncresolver.Resolver:
    """dnspython's asyncio resolver set up the way DNS.md says: explicit servers, no search
    list, no cache, EDNS on."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [address for address, _port in nameservers]
    resolver.nameserver_ports = {address: port for address, port in nameservers}
    resolver.port = nameservers[0][1] if nameservers else DEFAULT_PORT
    resolver.timeout = timeout
    resolver.use_search_by_default = False
    resolver.use_edns(0, 0, EDNS_PAYLOAD)
    return resolver


class ResolverClient:
    """Answers through a dnspython resolver, its exceptions mapped to a Status."""

    def __init__(self, resolver: dns.asyncresolver.Resolver, *, lifetime: float = 5.0) -> None:
        self.resolver = resolver
        self.lifetime = lifetime
        self.queries = 0

    async def __aenter__(self) -> "ResolverClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass

    async def query(self, name: str, rdtype: str) -> Answer:
        self.queries += 1
        try:
            result = await self.resolver.resolve(
                name, rdtype, search=False, raise_on_no_answer=False, lifetime=self.lifetime
            )
        except dns.resolver.NXDOMAIN:
            return Answer(name, rdtype, Status.NXDOMAIN)
        except dns.resolver.NoAnswer:
            return Answer(name, rdtype, Status.NODATA)
        except dns.resolver.NoNameservers as exc:
            # SERVFAIL and REFUSED (and DNSSEC-bogus answers) all end up here.
            return Answer(name, rdtype, Status.UNKNOWN, error=f"no nameserver answered: {exc}")
        except dns.exception.Timeout:
            return Answer(name, rdtype, Status.UNKNOWN, error="timeout")
        except dns.exception.DNSException as exc:
            return Answer(name, rdtype, Status.UNKNOWN, error=f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return Answer(name, rdtype, Status.UNKNOWN, error=f"network error: {exc}")
        qname = dns.name.from_text(name)
        cnames = () if result.canonical_name == qname else (to_text(result.canonical_name),)
        server = server_text(result.nameserver, result.port) if result.nameserver else ""
        if result.rrset is None:
            return Answer(name, rdtype, Status.NODATA, cnames=cnames, server=server)
        records = _records(result.rrset, rdtype)
        return Answer(name, rdtype, Status.ANSWER, records, result.rrset.ttl, cnames, server=server)


# --- TXT records, zones and their servers ------------------------------------------------


def txt_values(answer: Answer) -> list[bytes]:
    """Each TXT record's strings joined with no separator (as SPF, RFC 7208 §3.3, does)."""
    if answer.status != Status.ANSWER:
        return []
    return [b"".join(strings) for strings in answer.records]


async def find_zone(name: str, client: Client) -> tuple[str | None, str]:
    """The zone ``name`` is in: the closest enclosing name that has an SOA record."""
    labels = name.split(".")
    for start in range(len(labels)):
        candidate = ".".join(labels[start:])
        answer = await client.query(candidate, "SOA")
        if answer.status == Status.UNKNOWN:
            return None, f"SOA {candidate}: {answer.error}"
        if answer.status == Status.ANSWER and not answer.cnames:
            return candidate, ""
    return None, f"no zone found for {name}"


async def zone_nameservers(
    zone: str, client: Client, *, port: int = DEFAULT_PORT
) -> tuple[list[tuple[str, str, int]], str]:
    """A zone's NS hosts, each address of theirs as (host, address, ``port``)."""
    ns = await client.query(zone, "NS")
    if ns.status != Status.ANSWER:
        return [], f"NS {zone}: {ns.error or ns.status}"
    servers: list[tuple[str, str, int]] = []
    for host in sorted(str(r).rstrip(".").lower() for r in ns.records):
        for rdtype in ("A", "AAAA"):
            answer = await client.query(host, rdtype)
            servers.extend((host, address, port) for address in answer.records)
    if not servers:
        return [], f"the NS hosts of {zone} have no addresses"
    return list(dict.fromkeys(servers)), ""


async def authoritative_servers(
    zone: str, client: Client, *, port: int = DEFAULT_PORT
) -> tuple[list[tuple[str, int]], str]:
    """The addresses of a zone's NS hosts, each with ``port``."""
    servers, error = await zone_nameservers(zone, client, port=port)
    return list(dict.fromkeys((address, at) for _host, address, at in servers)), error


async def zone_serial(zone: str, address: str, port: int, *, timeout: float) -> int | None:
    """The SOA serial one server has for ``zone``; None when it gives none."""
    query = dns.message.make_query(dns.name.from_text(zone), "SOA")
    try:
        response = await dns.asyncquery.udp(query, address, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError, ValueError):
        return None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return rrset[0].serial
    return None


def run_dns(coroutine: Any) -> Any:
    """Run DNS work from synchronous code (services, commands, views). Under an event loop
    that already runs in this thread (an async server's, a test's browser driver), in a
    thread of its own: asyncio runs one loop per thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
