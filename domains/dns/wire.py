"""The DNS wire format, for the few record types serweb reads (RFC 1035, 2782, 3403, 6891).

A lean path for bulk checks: dnspython's generic message parser costs ~100 µs per answer
on this kind of machine, most of it for sections and types serweb never looks at. This
checks the framing of every record but reads the data only of the answer records serweb
uses, the SOA of the authority section and the OPT record. Anything malformed raises
WireError; callers treat it as "unknown". tests/test_dns_wire.py holds it to dnspython's
parser and says where the two differ, and why.
"""

import socket
import struct
from dataclasses import dataclass
from typing import Any

TYPE_CODES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28, "SRV": 33, "NAPTR": 35}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}
CLASS_IN = 1
TYPE_OPT = 41

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080

RCODE_NOERROR = 0
RCODE_NXDOMAIN = 3
RCODE_NAMES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    16: "BADVERS",
    23: "BADCOOKIE",
}

# dnspython's limit; with pointers that must point backwards, a bound on work per name.
_MAX_POINTERS = 16
_MAX_TTL = 0x7FFFFFFF
_OPCODE_MASK = 0x7800
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_PRINTABLE_LABEL_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_*")


class WireError(ValueError):
    pass


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str  # "." when the service is not offered (RFC 2782)

    def __str__(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"


@dataclass(frozen=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str

    def __str__(self) -> str:
        return (
            f'{self.order} {self.preference} "{self.flags}" "{self.service}" '
            f'"{self.regexp}" {self.replacement}'
        )


@dataclass(frozen=True)
class Record:
    name: str
    rdtype: int
    ttl: int
    data: Any


@dataclass(frozen=True)
class Message:
    id: int
    flags: int
    rcode: int
    # (name, type, class) of the one question; None when there is not exactly one.
    question: tuple[str, int, int] | None
    answer: tuple[Record, ...]
    # The SOA of the authority section, for the negative TTL (RFC 2308).
    soa_ttl: int | None

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)


# --- names --------------------------------------------------------------------------------


def _label_text(label: bytes) -> str:
    lowered = label.lower()
    if all(byte in _PRINTABLE_LABEL_BYTES for byte in lowered):
        return lowered.decode("ascii")
    # RFC 4343 escapes, so an odd label can never pass for a dot-separated name.
    return "".join(chr(b) if b in _PRINTABLE_LABEL_BYTES else f"\\{b:03d}" for b in lowered)


def encode_name(name: str) -> bytes:
    """A host name in text (A-labels, no escapes) as wire labels."""
    text = name.rstrip(".")
    if not text:
        return b"\x00"
    wire = bytearray()
    for label in text.split("."):
        raw = label.encode("ascii")
        if not raw or len(raw) > 63 or b"\\" in raw:
            raise WireError(f"cannot encode {name!r}")
        wire.append(len(raw))
        wire += raw
    wire.append(0)
    if len(wire) > 255:
        raise WireError(f"{name!r} is longer than 255 octets")
    return bytes(wire)


def _read_name(wire: bytes, offset: int, end: int) -> tuple[str, int]:
    """The name at ``offset``, which must not run past ``end``, and the offset after it.

    Compression pointers (RFC 1035 4.1.4) must point backwards, each before the part of
    the name that holds it, and what they lead to must end before that part starts, as
    BIND and dnspython require: a loop or a forward reference is impossible, and the work
    per name stays bounded."""
    labels: list[str] = []
    size = 1  # the root label's length octet counts towards the 255 (RFC 1035 3.1)
    after = -1
    part = offset
    pointers = 0
    while True:
        if offset >= end:
            raise WireError("name runs past the end")
        length = wire[offset]
        if length == 0:
            offset += 1
            break
        if length < 0x40:
            stop = offset + 1 + length
            if stop > end:
                raise WireError("label runs past the end")
            size += 1 + length
            if size > 255:
                raise WireError("name longer than 255 octets")
            labels.append(_label_text(wire[offset + 1 : stop]))
            offset = stop
            continue
        if length < 0xC0:
            raise WireError("unknown label type")
        if offset + 2 > end:
            raise WireError("truncated pointer")
        target = ((length & 0x3F) << 8) | wire[offset + 1]
        if target >= part:
            raise WireError("compression pointer does not point backwards")
        pointers += 1
        if pointers > _MAX_POINTERS:
            raise WireError("too many compression pointers")
        if after < 0:
            after = offset + 2
        end, part, offset = part, target, target
    return (".".join(labels) or "."), (after if after >= 0 else offset)


def _character_string(wire: bytes, offset: int, end: int) -> tuple[bytes, int]:
    if offset >= end:
        raise WireError("character-string runs past the record")
    stop = offset + 1 + wire[offset]
    if stop > end:
        raise WireError("character-string runs past the record")
    return wire[offset + 1 : stop], stop


# --- messages -----------------------------------------------------------------------------


def build_query(qname: bytes, rdtype: str, query_id: int, *, payload: int = 1232) -> bytes:
    """A recursive query for ``qname`` (wire form) with an EDNS(0) OPT record (RFC 6891)."""
    header = _HEADER.pack(query_id, FLAG_RD, 1, 0, 0, 1)
    question = qname + struct.pack("!HH", TYPE_CODES[rdtype], CLASS_IN)
    opt = b"\x00" + struct.pack("!HHIH", TYPE_OPT, payload, 0, 0)
    return header + question + opt


def _exact(offset: int, end: int, what: str) -> None:
    if offset != end:
        raise WireError(f"{what} record data is not the size its record says")


def _rdata(wire: bytes, rdtype: int, start: int, end: int) -> Any:
    """The data of one record that serweb reads; it must fill ``start:end`` exactly."""
    if rdtype == 1:
        if end - start != 4:
            raise WireError("bad A record")
        return socket.inet_ntop(socket.AF_INET, wire[start:end])
    if rdtype == 28:
        if end - start != 16:
            raise WireError("bad AAAA record")
        return socket.inet_ntop(socket.AF_INET6, wire[start:end])
    if rdtype in (2, 5):
        name, offset = _read_name(wire, start, end)
        _exact(offset, end, TYPE_NAMES[rdtype])
        return name
    if rdtype == 33:
        if end - start < 7:
            raise WireError("bad SRV record")
        priority, weight, port = struct.unpack_from("!HHH", wire, start)
        target, offset = _read_name(wire, start + 6, end)
        _exact(offset, end, "SRV")
        return Srv(priority, weight, port, target)
    if rdtype == 35:
        if end - start < 8:
            raise WireError("bad NAPTR record")
        order, preference = struct.unpack_from("!HH", wire, start)
        offset = start + 4
        texts = []
        for _ in range(3):
            text, offset = _character_string(wire, offset, end)
            texts.append(text.decode("ascii", "replace"))
        replacement, offset = _read_name(wire, offset, end)
        _exact(offset, end, "NAPTR")
        return Naptr(order, preference, texts[0].lower(), texts[1].upper(), texts[2], replacement)
    if rdtype == 16:
        # One or more character-strings (RFC 1035 3.3.14); an empty string is one.
        strings = []
        offset = start
        while offset < end or not strings:
            text, offset = _character_string(wire, offset, end)
            strings.append(text)
        return tuple(strings)
    if rdtype == 6:
        offset = _read_name(wire, _read_name(wire, start, end)[1], end)[1]
        _exact(offset + 20, end, "SOA")
        return struct.unpack_from("!IIIII", wire, offset)[4]  # MINIMUM
    raise AssertionError(f"type {rdtype} is not read")


def _skip_options(wire: bytes, start: int, end: int) -> None:
    """The EDNS options of an OPT record: only their framing is checked (RFC 6891 6.1.2)."""
    offset = start
    while offset < end:
        if offset + 4 > end:
            raise WireError("EDNS option runs past the record")
        (size,) = struct.unpack_from("!H", wire, offset + 2)
        offset += 4 + size
    _exact(offset, end, "OPT")


def parse_response(wire: bytes) -> Message:
    """The parts of a response serweb uses; WireError for anything malformed.

    Every record's framing is checked (owner name, fixed fields, data inside the message,
    no octet left over); the data of a record is read only where serweb uses it: IN records
    of TYPE_CODES in the answer, IN SOA in the authority section, and the OPT record for
    the extended RCODE (RFC 6891 6.1.3)."""
    if len(wire) < _HEADER.size:
        raise WireError("shorter than a header")
    query_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    if not flags & FLAG_QR:
        raise WireError("not a response")
    if flags & _OPCODE_MASK:
        raise WireError("not an answer to a standard query")
    size = len(wire)
    offset = _HEADER.size
    questions = []
    for _ in range(qdcount):
        qname, offset = _read_name(wire, offset, size)
        if offset + 4 > size:
            raise WireError("question runs past the end")
        qtype, qclass = struct.unpack_from("!HH", wire, offset)
        offset += 4
        questions.append((qname, qtype, qclass))
    answer: list[Record] = []
    soa_ttl = None
    extended_rcode = None
    for index in range(ancount + nscount + arcount):
        name, offset = _read_name(wire, offset, size)
        if offset + _RR_FIXED.size > size:
            raise WireError("record runs past the end")
        rdtype, rdclass, ttl, rdlength = _RR_FIXED.unpack_from(wire, offset)
        start = offset + _RR_FIXED.size
        offset = start + rdlength
        if offset > size:
            raise WireError("record data runs past the end")
        if rdtype == TYPE_OPT:
            if index < ancount + nscount or extended_rcode is not None or name != ".":
                raise WireError("misplaced OPT record")
            _skip_options(wire, start, offset)
            extended_rcode = ttl >> 24
            continue
        # RFC 2181 8: a TTL with the most significant bit set means zero.
        if ttl > _MAX_TTL:
            ttl = 0
        if rdclass != CLASS_IN:
            continue
        if index < ancount:
            if rdtype in TYPE_NAMES:
                answer.append(Record(name, rdtype, ttl, _rdata(wire, rdtype, start, offset)))
        elif index < ancount + nscount and rdtype == 6:
            # RFC 2308 5: the negative TTL is the SOA's TTL or MINIMUM, whichever is less;
            # of several SOAs (there should be one), the shortest.
            negative = min(ttl, _rdata(wire, rdtype, start, offset))
            soa_ttl = negative if soa_ttl is None else min(soa_ttl, negative)
    if offset != size:
        raise WireError("octets after the last record")
    rcode = flags & 0x000F
    if extended_rcode:
        rcode |= extended_rcode << 4
    # A response answers one question (RFC 9619); none or several answer no question of ours.
    question = questions[0] if len(questions) == 1 else None
    return Message(query_id, flags, rcode, question, tuple(answer), soa_ttl)
