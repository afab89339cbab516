"""The DNS wire format, for the few record types serweb reads (RFC 1035, 2782, 3403, 6891).

A lean path for bulk checks: dnspython's generic message parser costs ~100 µs per answer
on this kind of machine, most of it for sections and types serweb never looks at. This
reads the header, the answer section and the SOA of the authority section, and skips
the rest. Anything malformed raises WireError; callers treat it as "unknown".
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
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

_MAX_POINTERS = 64
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
    question: tuple[str, int] | None
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


def _read_name(wire: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end = -1
    pointers = 0
    length_total = 0
    while True:
        if offset >= len(wire):
            raise WireError("name runs past the end")
        length = wire[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(wire):
                raise WireError("truncated pointer")
            pointers += 1
            if pointers > _MAX_POINTERS:
                raise WireError("compression loop")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            continue
        if length & 0xC0:
            raise WireError("unknown label type")
        offset += 1
        if length == 0:
            break
        label = wire[offset : offset + length]
        if len(label) != length:
            raise WireError("label runs past the end")
        length_total += length + 1
        if length_total > 255:
            raise WireError("name longer than 255 octets")
        labels.append(_label_text(label))
        offset += length
    return (".".join(labels) or "."), (end if end >= 0 else offset)


def _character_strings(data: bytes) -> tuple[bytes, ...]:
    strings = []
    offset = 0
    while offset < len(data):
        length = data[offset]
        chunk = data[offset + 1 : offset + 1 + length]
        if len(chunk) != length:
            raise WireError("character-string runs past the end")
        strings.append(chunk)
        offset += 1 + length
    return tuple(strings)


# --- messages -----------------------------------------------------------------------------


def build_query(qname: bytes, rdtype: str, query_id: int, *, payload: int = 1232) -> bytes:
    """A recursive query for ``qname`` (wire form) with an EDNS(0) OPT record (RFC 6891)."""
    header = _HEADER.pack(query_id, FLAG_RD, 1, 0, 0, 1)
    question = qname + struct.pack("!HH", TYPE_CODES[rdtype], CLASS_IN)
    opt = b"\x00" + struct.pack("!HHIH", TYPE_OPT, payload, 0, 0)
    return header + question + opt


def _rdata(wire: bytes, rdtype: int, start: int, length: int) -> Any:
    data = wire[start : start + length]
    if rdtype == 1:
        if length != 4:
            raise WireError("bad A record")
        return socket.inet_ntop(socket.AF_INET, data)
    if rdtype == 28:
        if length != 16:
            raise WireError("bad AAAA record")
        return socket.inet_ntop(socket.AF_INET6, data)
    if rdtype in (2, 5):
        return _read_name(wire, start)[0]
    if rdtype == 33:
        if length < 7:
            raise WireError("bad SRV record")
        priority, weight, port = struct.unpack_from("!HHH", wire, start)
        return Srv(priority, weight, port, _read_name(wire, start + 6)[0])
    if rdtype == 35:
        order, preference = struct.unpack_from("!HH", wire, start)
        offset = start + 4
        texts = []
        for _ in range(3):
            size = wire[offset]
            texts.append(wire[offset + 1 : offset + 1 + size].decode("ascii", "replace"))
            offset += 1 + size
        replacement = _read_name(wire, offset)[0]
        return Naptr(order, preference, texts[0].lower(), texts[1].upper(), texts[2], replacement)
    if rdtype == 16:
        return _character_strings(data)
    if rdtype == 6:
        offset = _read_name(wire, _read_name(wire, start)[1])[1]
        return struct.unpack_from("!IIIII", wire, offset)[4]  # MINIMUM
    return data


def parse_response(wire: bytes) -> Message:
    if len(wire) < _HEADER.size:
        raise WireError("shorter than a header")
    query_id, flags, qdcount, ancount, nscount, _arcount = _HEADER.unpack_from(wire)
    if not flags & FLAG_QR:
        raise WireError("not a response")
    offset = _HEADER.size
    question = None
    try:
        for _ in range(qdcount):
            qname, offset = _read_name(wire, offset)
            qtype, _qclass = struct.unpack_from("!HH", wire, offset)
            offset += 4
            question = (qname, qtype)
        answer: list[Record] = []
        soa_ttl = None
        for index in range(ancount + nscount):
            name, offset = _read_name(wire, offset)
            rdtype, rdclass, ttl, rdlength = _RR_FIXED.unpack_from(wire, offset)
            offset += _RR_FIXED.size
            if offset + rdlength > len(wire):
                raise WireError("record data runs past the end")
            if rdclass == CLASS_IN and index < ancount and rdtype in TYPE_NAMES:
                answer.append(Record(name, rdtype, ttl, _rdata(wire, rdtype, offset, rdlength)))
            elif index >= ancount and rdtype == 6 and soa_ttl is None:
                soa_ttl = min(ttl, _rdata(wire, rdtype, offset, rdlength))
            offset += rdlength
    except (struct.error, IndexError) as exc:
        raise WireError(f"truncated message: {exc}") from None
    # The extended RCODE of EDNS lives in the OPT record; serweb only needs the basic one.
    return Message(query_id, flags, flags & 0x000F, question, tuple(answer), soa_ttl)
