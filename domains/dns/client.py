"""Asking DNS questions: the answer classes and the lean UDP client.

Every answer is classified once, here: records (ANSWER), NXDOMAIN or NODATA (the only
negative evidence), or UNKNOWN (SERVFAIL, REFUSED, timeouts, network errors, referrals,
malformed answers), which says nothing about the name. No dnspython: the wire format is in
domains.dns.wire; domains.dns.resolution adds dnspython's resolver as another client.
"""

import asyncio
import ipaddress
import random
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from domains.dns import wire

DEFAULT_PORT = 53
# EDNS payload that avoids IP fragmentation (DNS flag day 2020); without EDNS a large TXT
# set would be truncated and retried over TCP.
EDNS_PAYLOAD = 1232
MAX_CNAME_HOPS = 8


class Status(StrEnum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    UNKNOWN = "unknown"

    @property
    def is_negative(self) -> bool:
        return self in (Status.NXDOMAIN, Status.NODATA)


@dataclass(frozen=True)
class Answer:
    """What one question got: records of the asked type, or why there are none."""

    name: str
    rdtype: str
    status: Status
    records: tuple[Any, ...] = ()
    # How long the answer (positive or negative, RFC 2308) may be kept.
    ttl: int = 0
    # CNAMEs followed from ``name``, in order; the last one owns the records.
    cnames: tuple[str, ...] = ()
    error: str = ""

    @property
    def owner(self) -> str:
        return self.cnames[-1] if self.cnames else self.name

    def to_evidence(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "type": self.rdtype, "status": str(self.status)}
        if self.records:
            shown["records"] = [_record_text(r) for r in self.records]
        if self.cnames:
            shown["cnames"] = list(self.cnames)
        if self.error:
            shown["error"] = self.error
        return shown


def _record_text(record: Any) -> str:
    if isinstance(record, tuple):  # TXT: its strings
        return " ".join('"' + s.decode("ascii", "backslashreplace") + '"' for s in record)
    return str(record)


class Client(Protocol):
    """Anything that answers one DNS question; tests and the benchmark inject their own."""

    queries: int

    async def query(self, name: str, rdtype: str) -> Answer: ...


# --- reading a response ---------------------------------------------------------------


@dataclass
class _Reading:
    status: Status
    records: tuple[Any, ...] = ()
    ttl: int = 0
    cnames: list[str] = field(default_factory=list)
    error: str = ""
    # The chain ended at a name this response has no data for: ask again there.
    follow: str | None = None


def read_response(qname: str, rdtype: str, response: wire.Message) -> _Reading:
    """Classify one response to ``qname``/``rdtype``, following CNAMEs inside it."""
    wanted = wire.TYPE_CODES[rdtype]
    by_owner: dict[tuple[str, int], list[wire.Record]] = {}
    for record in response.answer:
        by_owner.setdefault((record.name, record.rdtype), []).append(record)
    current, cnames, seen = qname, [], {qname}
    ttl = 2**31
    for _ in range(MAX_CNAME_HOPS):
        found = by_owner.get((current, wanted))
        if found and response.rcode == wire.RCODE_NOERROR:
            ttl = min([ttl, *(r.ttl for r in found)])
            return _Reading(
                Status.ANSWER, sorted_records(rdtype, (r.data for r in found)), ttl, cnames
            )
        cname = by_owner.get((current, wire.TYPE_CODES["CNAME"]))
        if not cname:
            break
        ttl = min(ttl, cname[0].ttl)
        current = cname[0].data
        if current in seen:
            return _Reading(Status.UNKNOWN, cnames=cnames, error="CNAME loop")
        seen.add(current)
        cnames.append(current)
    else:
        return _Reading(Status.UNKNOWN, cnames=cnames, error="CNAME chain too long")
    if response.rcode == wire.RCODE_NXDOMAIN:
        # RFC 6604: after a CNAME the rcode is about the last name of the chain.
        return _Reading(Status.NXDOMAIN, ttl=response.soa_ttl or 0, cnames=cnames)
    if response.rcode != wire.RCODE_NOERROR:
        error = wire.RCODE_NAMES.get(response.rcode, f"rcode {response.rcode}")
        return _Reading(Status.UNKNOWN, cnames=cnames, error=error)
    if cnames:
        return _Reading(Status.NODATA, cnames=cnames, follow=current)
    if not response.flags & (wire.FLAG_AA | wire.FLAG_RA):
        # A referral or a lame server: not an answer about the name.
        return _Reading(Status.UNKNOWN, error="no authoritative answer (referral)")
    return _Reading(Status.NODATA, ttl=response.soa_ttl or 0)


def sorted_records(rdtype: str, records: Iterable[Any]) -> tuple[Any, ...]:
    if rdtype == "SRV":
        return tuple(sorted(records, key=lambda s: (s.priority, -s.weight, s.target, s.port)))
    if rdtype == "NAPTR":
        return tuple(sorted(records, key=lambda n: (n.order, n.preference, n.service)))
    if rdtype in ("A", "AAAA"):
        # Addresses in one spelling (RFC 5952 for IPv6), whatever produced them.
        return tuple(sorted(ipaddress.ip_address(a).compressed for a in records))
    if rdtype == "TXT":
        return tuple(records)
    return tuple(sorted(records))


def _qname_wire(name: str) -> bytes:
    try:
        return wire.encode_name(name)
    except UnicodeError:
        raise wire.WireError(f"{name!r} is not in A-label form") from None


# --- the lean client: few long-lived sockets ------------------------------------------


class _Endpoint(asyncio.DatagramProtocol):
    """One UDP socket; answers are matched to waiting queries by id and source address."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, tuple[tuple[str, int], asyncio.Future]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if len(data) < 12:
            return
        entry = self.waiting.get(int.from_bytes(data[:2], "big"))
        if entry is None:
            return
        expected, future = entry
        # Off-path answers must come from the server asked, port included.
        if (addr[0], addr[1]) != expected and (_canonical_ip(addr[0]), addr[1]) != expected:
            return
        if not future.done():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) arrive here without a query id: the affected
        # queries simply time out.
        pass

    def free_id(self) -> int:
        while True:
            query_id = random.getrandbits(16)
            if query_id not in self.waiting:
                return query_id


def _canonical_ip(text: str) -> str:
    try:
        return ipaddress.ip_address(text.split("%")[0]).compressed
    except ValueError:
        return text


class UdpClient:
    """Queries over a few long-lived UDP sockets, answers matched by id and source.

    dnspython's stock resolver opens a socket per query and parses every section of every
    answer; on this kind of machine that costs ~0.6 ms of CPU per query. Reusing sockets
    and reading only what serweb needs (domains.dns.wire) makes a query several times cheaper.
    Truncated answers are asked again over TCP. Use as ``async with UdpClient(...)``.
    """

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]],
        *,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        sockets: int = 4,
    ) -> None:
        if not nameservers:
            raise ValueError("no nameservers to ask")
        self.nameservers = [(_canonical_ip(a), p) for a, p in nameservers]
        self.timeout = timeout
        self.lifetime = lifetime
        self.socket_count = sockets
        self.queries = 0
        self._endpoints: dict[int, list[_Endpoint]] = {}

    async def __aenter__(self) -> "UdpClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for endpoints in self._endpoints.values():
            for endpoint in endpoints:
                if endpoint.transport is not None:
                    endpoint.transport.close()
        self._endpoints.clear()

    async def _endpoint(self, family: int) -> _Endpoint:
        endpoints = self._endpoints.setdefault(family, [])
        if len(endpoints) < self.socket_count:
            loop = asyncio.get_running_loop()
            local = "::" if family == socket.AF_INET6 else "0.0.0.0"
            _transport, endpoint = await loop.create_datagram_endpoint(
                _Endpoint, local_addr=(local, 0), family=family
            )
            endpoints.append(endpoint)
            return endpoint
        return random.choice(endpoints)

    async def query(self, name: str, rdtype: str) -> Answer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        qname = name.lower().rstrip(".") or "."
        cnames: list[str] = []
        for _ in range(MAX_CNAME_HOPS):
            response, error = await self._exchange(qname, rdtype, deadline)
            if response is None:
                return Answer(name, rdtype, Status.UNKNOWN, cnames=tuple(cnames), error=error)
            reading = read_response(qname, rdtype, response)
            cnames.extend(reading.cnames)
            if reading.follow is None:
                return Answer(
                    name,
                    rdtype,
                    reading.status,
                    reading.records,
                    reading.ttl,
                    tuple(cnames),
                    reading.error,
                )
            # The server gave the CNAME but not its target (another zone): ask for it.
            qname = reading.follow
        return Answer(
            name, rdtype, Status.UNKNOWN, cnames=tuple(cnames), error="CNAME chain too long"
        )

    async def _exchange(
        self, qname: str, rdtype: str, deadline: float
    ) -> tuple[wire.Message | None, str]:
        """Ask the nameservers in turn until one gives an answer that means something."""
        loop = asyncio.get_running_loop()
        try:
            qname_wire = _qname_wire(qname)
        except wire.WireError as exc:
            return None, f"bad name: {exc}"
        errors: list[str] = []
        servers = list(self.nameservers)
        while servers:
            for address, port in list(servers):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    errors.append("lifetime exceeded")
                    return None, "; ".join(dict.fromkeys(errors))
                response, error = await self._ask(
                    qname, qname_wire, rdtype, address, port, min(self.timeout, remaining)
                )
                if response is None:
                    errors.append(f"{error} from {address}")
                    continue
                if response.rcode in (wire.RCODE_NOERROR, wire.RCODE_NXDOMAIN):
                    return response, ""
                rcode = wire.RCODE_NAMES.get(response.rcode, f"rcode {response.rcode}")
                errors.append(f"{rcode} from {address}")
                # SERVFAIL and REFUSED are final for that server; timeouts are retried.
                servers.remove((address, port))
        return None, "; ".join(dict.fromkeys(errors))

    async def _ask(
        self, qname: str, qname_wire: bytes, rdtype: str, address: str, port: int, timeout: float
    ) -> tuple[wire.Message | None, str]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        endpoint = await self._endpoint(family)
        query_id = endpoint.free_id()
        query = wire.build_query(qname_wire, rdtype, query_id, payload=EDNS_PAYLOAD)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        endpoint.waiting[query_id] = ((address, port), future)
        self.queries += 1
        timer = asyncio.get_running_loop().call_later(timeout, _expire, future)
        try:
            assert endpoint.transport is not None
            endpoint.transport.sendto(query, (address, port))
            data = await future
        except TimeoutError:
            return None, "timeout"
        except OSError as exc:
            return None, f"network error: {exc.strerror or exc}"
        finally:
            timer.cancel()
            endpoint.waiting.pop(query_id, None)
        try:
            response = wire.parse_response(data)
        except wire.WireError as exc:
            return None, f"malformed answer: {exc}"
        if response.question != (qname, wire.TYPE_CODES[rdtype], wire.CLASS_IN):
            return None, "answer to another question"
        if response.truncated:
            return await self._ask_tcp(query, query_id, qname, rdtype, address, port, timeout)
        return response, ""

    async def _ask_tcp(
        self,
        query: bytes,
        query_id: int,
        qname: str,
        rdtype: str,
        address: str,
        port: int,
        timeout: float,
    ) -> tuple[wire.Message | None, str]:
        """RFC 7766: the same query over TCP, with a two-byte length prefix."""
        self.queries += 1
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(address, port)
                writer.write(len(query).to_bytes(2, "big") + query)
                await writer.drain()
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
        except TimeoutError:
            return None, "timeout (TCP)"
        except (OSError, asyncio.IncompleteReadError) as exc:
            return None, f"network error (TCP): {exc}"
        finally:
            if writer is not None:
                writer.close()
        try:
            response = wire.parse_response(data)
        except wire.WireError as exc:
            return None, f"malformed answer (TCP): {exc}"
        # A connection of its own is no proof the answer is to this query.
        if response.id != query_id or response.question != (
            qname,
            wire.TYPE_CODES[rdtype],
            wire.CLASS_IN,
        ):
            return None, "answer to another question (TCP)"
        return response, ""


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
