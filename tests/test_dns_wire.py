"""domains.dns.wire held to dnspython's parser, on real answers from Knot and mutations of
them.

Every message goes to three readers: ours (``parse_response``), dnspython's message parser
(``dns.message.from_wire``), and ``serweb_view``: dnspython's own name, compression and
rdata parsers walked over the records the way serweb reads them. Ours must give what
``serweb_view`` gives, record for record, or raise WireError where it rejects the message;
no other exception, no hang. Where dnspython's message parser accepts a response,
``serweb_view`` must agree with it; where it rejects one that ``serweb_view`` accepts, each
of its errors must lie inside the data of a record serweb does not read.

Where the two parsers differ, and why (each is also a crafted case below):
- Ours is stricter on what a response is: QR set and opcode QUERY. dnspython reads any
  message (queries, NOTIFY, UPDATE); a resolver asking standard queries must not take any
  of those for an answer.
- Ours is laxer on records whose data serweb never reads: types outside TYPE_CODES, classes
  other than IN, authority records other than SOA, additional records other than OPT, and
  the contents of EDNS options. Their framing is checked (owner name, fixed fields, data
  inside the message, no octet left over), their data is not: it cannot give serweb wrong
  data, and not parsing it is why the lean parser exists. dnspython fails the whole
  message on a malformed one of those it knows, and on any TSIG record without a key.
- Representation: names are lower case with RFC 4343 ``\\DDD`` escapes (dnspython keeps the
  case and escapes differently); NAPTR strings are ASCII with replacement characters,
  flags lower and service upper case (as domains.dns.resolution does with dnspython's
  rdata); addresses are compared as addresses; records as RRsets (a set of data, the least
  TTL), as dnspython groups them and as domains.dns.client uses them. The question is kept
  only when there is exactly one (RFC 9619); an SOA in the answer section is read for its
  MINIMUM.
"""

import ipaddress
import signal
import socket
import struct
from contextlib import contextmanager
from dataclasses import dataclass

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.dns import wire
from tests import dns_harness
from tests.dns_harness import BROKEN_ZONE, LOOPBACK, REFUSED_NAME, ZONE

knot = dns_harness.knot

IN = dns.rdataclass.IN
OPT = dns.rdatatype.OPT
SOA = dns.rdatatype.SOA
ANSWER, AUTHORITY, ADDITIONAL = "answer", "authority", "additional"


# --- what a message says, in one shape for every reader -----------------------------------


@dataclass(frozen=True)
class Reading:
    id: int
    flags: int
    rcode: int
    question: tuple[str, int, int] | None
    # (owner, type) -> (least TTL, the set of data)
    answer: dict
    soa_ttl: int | None


_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_*")


def name_text(name: dns.name.Name) -> str:
    """A dnspython name as serweb writes names: lower case, RFC 4343 escapes, no final dot."""
    labels = [label for label in name.labels if label]
    return (
        ".".join(
            "".join(chr(b) if b in _PLAIN else f"\\{b:03d}" for b in label.lower())
            for label in labels
        )
        or "."
    )


def rdata_value(rdata) -> object:
    """A dnspython rdata as domains.dns.wire gives it."""
    rdtype = rdata.rdtype
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return ipaddress.ip_address(rdata.address)
    if rdtype in (dns.rdatatype.NS, dns.rdatatype.CNAME):
        return name_text(rdata.target)
    if rdtype == dns.rdatatype.SRV:
        return wire.Srv(rdata.priority, rdata.weight, rdata.port, name_text(rdata.target))
    if rdtype == dns.rdatatype.NAPTR:
        return wire.Naptr(
            rdata.order,
            rdata.preference,
            rdata.flags.decode("ascii", "replace").lower(),
            rdata.service.decode("ascii", "replace").upper(),
            rdata.regexp.decode("ascii", "replace"),
            name_text(rdata.replacement),
        )
    if rdtype == dns.rdatatype.TXT:
        return tuple(rdata.strings)
    if rdtype == SOA:
        return rdata.minimum
    raise AssertionError(rdtype)


def _add(answer: dict, key: tuple[str, int], ttl: int, value: object) -> None:
    least, values = answer.get(key, (ttl, frozenset()))
    answer[key] = (min(least, ttl), values | {value})


def ours(message: bytes) -> Reading | None:
    """domains.dns.wire's reading; None for WireError, and nothing else may be raised."""
    try:
        with time_limit(2):
            parsed = wire.parse_response(message)
    except wire.WireError:
        return None
    answer: dict = {}
    for record in parsed.answer:
        value = record.data
        if record.rdtype in (1, 28):
            value = ipaddress.ip_address(value)
        _add(answer, (record.name, record.rdtype), record.ttl, value)
    return Reading(parsed.id, parsed.flags, parsed.rcode, parsed.question, answer, parsed.soa_ttl)


def dnspython_reading(message: dns.message.Message) -> Reading:
    """What dnspython's message parser made of a response, in serweb's terms."""
    answer: dict = {}
    for rrset in message.answer:
        if rrset.rdclass == IN and rrset.rdtype in wire.TYPE_NAMES:
            for rdata in rrset:
                _add(answer, (name_text(rrset.name), rrset.rdtype), rrset.ttl, rdata_value(rdata))
    soa_ttls = [
        min(rrset.ttl, rdata.minimum)
        for rrset in message.authority
        if rrset.rdclass == IN and rrset.rdtype == SOA
        for rdata in rrset
    ]
    question = None
    if len(message.question) == 1:
        (q,) = message.question
        question = (name_text(q.name), q.rdtype, q.rdclass)
    return Reading(
        message.id,
        int(message.flags),
        int(message.rcode()),
        question,
        answer,
        min(soa_ttls) if soa_ttls else None,
    )


class Rejected(dns.exception.DNSException):
    pass


@dataclass
class View:
    reading: Reading
    # Where the data of each record serweb does not read lies: (start, end) offsets.
    unread: list


def serweb_view(message: bytes) -> View | None:
    """dnspython's parsers walked over the records as serweb reads them; None if rejected."""
    try:
        return _serweb_view(message)
    except (dns.exception.DNSException, ValueError):
        return None


def _serweb_view(message: bytes) -> View:
    parser = dns.wire.Parser(message)
    if parser.remaining() < 12:
        raise Rejected("short header")
    query_id, flags, qdcount, ancount, nscount, arcount = parser.get_struct("!HHHHHH")
    if not flags & dns.flags.QR or dns.opcode.from_flags(flags) != dns.opcode.QUERY:
        raise Rejected("not a response to a standard query")
    questions = []
    for _ in range(qdcount):
        name = parser.get_name(None, True)
        questions.append((name_text(name), *parser.get_struct("!HH")))
    answer: dict = {}
    soa_ttls = []
    unread = []
    extended = None
    sections = [ANSWER] * ancount + [AUTHORITY] * nscount + [ADDITIONAL] * arcount
    for section in sections:
        name = parser.get_name(None, True)
        rdtype, rdclass, ttl, rdlength = parser.get_struct("!HHIH")
        with parser.restrict_to(rdlength):
            start = parser.current
            if rdtype == OPT:
                if section != ADDITIONAL or extended is not None or name != dns.name.root:
                    raise Rejected("misplaced OPT")
                while parser.remaining():  # options: their framing only
                    _code, size = parser.get_struct("!HH")
                    parser.get_bytes(size)
                unread.append((start, parser.current))
                extended = ttl >> 24
                continue
            ttl = 0 if ttl > 0x7FFFFFFF else ttl
            read = rdclass == IN and (
                (section == ANSWER and rdtype in wire.TYPE_NAMES)
                or (section == AUTHORITY and rdtype == SOA)
            )
            if not read:
                parser.get_remaining()
                unread.append((start, parser.current))
                continue
            rdata = dns.rdata.from_wire_parser(rdclass, rdtype, parser)
            if section == ANSWER:
                _add(answer, (name_text(name), rdtype), ttl, rdata_value(rdata))
            else:
                soa_ttls.append(min(ttl, rdata.minimum))
    if parser.remaining():
        raise Rejected("trailing octets")
    rcode = (flags & 0xF) | ((extended or 0) << 4)
    question = questions[0] if len(questions) == 1 else None
    reading = Reading(query_id, flags, rcode, question, answer, min(soa_ttls) if soa_ttls else None)
    return View(reading, unread)


@contextmanager
def time_limit(seconds: float):
    """A parse that loops forever fails the test instead of hanging it."""

    def expire(signum, frame):
        raise TimeoutError(f"parsing took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(message: bytes) -> Reading | None:
    """Ours against serweb_view, and serweb_view against dnspython; ours' reading."""
    mine = ours(message)
    view = serweb_view(message)
    assert mine == (view.reading if view else None)
    try:
        strict = dns.message.from_wire(message)
    except Exception:
        strict = None
    if view is None:
        # Only ours is stricter: on what is a response to a standard query at all.
        flags = struct.unpack_from("!H", message, 2)[0] if len(message) >= 4 else 0
        if strict is not None:
            assert not flags & dns.flags.QR or dns.opcode.from_flags(flags) != dns.opcode.QUERY
        return mine
    if strict is not None:
        assert dnspython_reading(strict) == view.reading
        return mine
    # dnspython refused what serweb reads: every error must be in data serweb skips.
    lenient = dns.message.from_wire(message, continue_on_error=True)
    assert lenient.errors
    for error in lenient.errors:
        assert any(start <= error.offset <= end for start, end in view.unread), (
            f"dnspython: {error.exception!r} at {error.offset}, outside the unread data "
            f"{view.unread}"
        )
    return mine


# --- real answers -------------------------------------------------------------------------


def ask(knot, name: str, rdtype: str, *, edns: int | bool = 0, tcp: bool = False) -> bytes:
    """The raw answer of the Knot server to one query."""
    query = dns.message.make_query(name, rdtype, use_edns=edns, payload=1232).to_wire()
    if tcp:
        with socket.create_connection((LOOPBACK, knot.port), timeout=5) as sock:
            sock.sendall(struct.pack("!H", len(query)) + query)
            size = struct.unpack("!H", _receive(sock, 2))[0]
            return _receive(sock, size)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query, (LOOPBACK, knot.port))
        return sock.recv(65535)


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed early")
        data += chunk
    return data


@pytest.fixture(scope="module")
def answers(knot) -> dict[str, bytes]:
    """Knot's answers to the questions serweb asks, by what each shows."""
    d = knot.unique("wire")
    knot.add(
        d,
        "NAPTR",
        f'10 10 "s" "SIP+D2U" "" _sip._udp.{d}.',
        f'20 10 "S" "sips+d2t" "" _sips._tcp.{d}.',
        f'30 10 "u" "E2U+sip" "!^.*$!sip:info@{d}!" .',
    )
    knot.add(f"_sip._udp.{d}", "SRV", f"10 20 5060 sip.{d}.", f"20 0 5070 sip2.{d}.")
    knot.add(f"_sip._tcp.{d}", "SRV", "0 0 0 .")
    knot.add(f"sip.{d}", "A", "192.0.2.10", "192.0.2.11")
    knot.add(f"sip.{d}", "AAAA", "2001:db8::10", "::ffff:192.0.2.12")
    knot.add(f"txt.{d}", "TXT", '"v=1" "a second string" ""', '"\\200\\255 odd bytes"')
    knot.add(f"alias.{d}", "CNAME", f"sip.{d}.")
    knot.add(f"alias2.{d}", "CNAME", f"alias.{d}.")
    knot.add(f"away.{d}", "CNAME", f"sip.{REFUSED_NAME}.")
    knot.add(f"odd\\.dot\\032and\\255.{d}", "TXT", '"escaped"')
    knot.add(f"big.{d}", "TXT", *(f'"{index:03d} {"x" * 250}"' for index in range(8)))
    return {
        "naptr": ask(knot, d, "NAPTR"),
        "srv": ask(knot, f"_sip._udp.{d}", "SRV"),
        "srv-not-offered": ask(knot, f"_sip._tcp.{d}", "SRV"),
        "a": ask(knot, f"sip.{d}", "A"),
        "a-mixed-case": ask(knot, f"SiP.{d.upper()}", "A"),
        "aaaa": ask(knot, f"sip.{d}", "AAAA"),
        "txt-multi-string": ask(knot, f"txt.{d}", "TXT"),
        "txt-escaped-name": ask(knot, f"odd\\.dot\\032and\\255.{d}", "TXT"),
        "cname-chain": ask(knot, f"alias2.{d}", "A"),
        "cname-out-of-zone": ask(knot, f"away.{d}", "A"),
        "nodata-soa-in-authority": ask(knot, f"sip.{d}", "TXT"),
        "nxdomain": ask(knot, f"nx.{d}", "A"),
        "nxdomain-without-edns": ask(knot, f"nx.{d}", "SRV", edns=False),
        "soa": ask(knot, ZONE, "SOA"),
        "ns-with-additional": ask(knot, ZONE, "NS"),
        "servfail": ask(knot, f"x.{BROKEN_ZONE}", "A"),
        "refused": ask(knot, REFUSED_NAME, "A"),
        "badvers": ask(knot, f"sip.{d}", "A", edns=1),
        "truncated": ask(knot, f"big.{d}", "TXT"),
        "tcp-large": ask(knot, f"big.{d}", "TXT", tcp=True),
    }


def test_real_answers_read_as_dnspython_reads_them(answers):
    d = dns.message.from_wire(answers["naptr"]).question[0].name.to_text().rstrip(".")
    readings = {}
    for what, message in answers.items():
        dns.message.from_wire(message)  # dnspython accepts every one of them
        readings[what] = check(message)
        assert readings[what] is not None, what

    naptr = readings["naptr"].answer[(d, 35)][1]
    assert {(n.order, n.flags, n.service) for n in naptr} == {
        (10, "s", "SIP+D2U"),
        (20, "s", "SIPS+D2T"),
        (30, "u", "E2U+SIP"),
    }
    assert readings["srv"].answer[(f"_sip._udp.{d}", 33)][1] == {
        wire.Srv(10, 20, 5060, f"sip.{d}"),
        wire.Srv(20, 0, 5070, f"sip2.{d}"),
    }
    assert readings["srv-not-offered"].answer[(f"_sip._tcp.{d}", 33)][1] == {wire.Srv(0, 0, 0, ".")}
    assert readings["a-mixed-case"].answer == readings["a"].answer
    assert readings["a-mixed-case"].question == (f"sip.{d}", 1, 1)
    assert readings["txt-multi-string"].answer[(f"txt.{d}", 16)][1] == {
        (b"v=1", b"a second string", b""),
        (bytes([200, 255]) + b" odd bytes",),
    }
    assert (f"odd\\046dot\\032and\\255.{d}", 16) in readings["txt-escaped-name"].answer
    chain = readings["cname-chain"].answer
    assert chain[(f"alias2.{d}", 5)][1] == {f"alias.{d}"}
    assert chain[(f"alias.{d}", 5)][1] == {f"sip.{d}"}
    assert len(chain[(f"sip.{d}", 1)][1]) == 2
    assert readings["nodata-soa-in-authority"].answer == {}
    assert readings["nodata-soa-in-authority"].soa_ttl == 60
    assert readings["nxdomain"].rcode == wire.RCODE_NXDOMAIN
    assert readings["nxdomain"].soa_ttl == 60
    assert readings["servfail"].rcode == 2
    assert readings["refused"].rcode == 5
    # RFC 6891 6.1.3: the upper bits of the RCODE live in the OPT record.
    assert readings["badvers"].rcode == 16
    assert readings["truncated"].flags & wire.FLAG_TC
    assert len(readings["tcp-large"].answer[(f"big.{d}", 16)][1]) == 8


def test_compressed_names_in_real_answers_are_followed(answers):
    # Knot compresses owner names and the names inside CNAME and SOA data.
    for what in ["cname-chain", "soa", "nodata-soa-in-authority"]:
        assert b"\xc0" in answers[what][12:]
        assert check(answers[what]) is not None


# --- crafted messages ---------------------------------------------------------------------


def labels(*parts: bytes) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in parts) + b"\x00"


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


def header(*, qd=1, an=0, ns=0, ar=0, flags=0x8580, query_id=0x1234) -> bytes:
    return struct.pack("!HHHHHH", query_id, flags, qd, an, ns, ar)


QNAME = labels(b"sip", b"test")  # at offset 12 in every crafted message
QUESTION = QNAME + struct.pack("!HH", 1, 1)


def rr(owner: bytes, rdtype: int, data: bytes, *, ttl=60, rdclass=1, rdlength=None) -> bytes:
    size = len(data) if rdlength is None else rdlength
    return owner + struct.pack("!HHIH", rdtype, rdclass, ttl, size) + data


A_RECORD = rr(pointer(12), 1, bytes([192, 0, 2, 10]))
SOA_DATA = labels(b"ns", b"test") + labels(b"host", b"test") + struct.pack("!IIIII", 1, 2, 3, 4, 30)


def opt(*, extended=0, options=b"", owner=b"\x00") -> bytes:
    return rr(owner, OPT, options, rdclass=1232, ttl=extended << 24)


def chain_of(hops: int) -> bytes:
    """A records whose owners are one label longer each, each a pointer to the one before."""
    body = QUESTION
    previous = 12
    for index in range(hops):
        offset = 12 + len(body)
        body += rr(bytes([1, ord("a") + index % 26]) + pointer(previous), 1, bytes([192, 0, 2, 1]))
        previous = offset
    return header(an=hops) + body


def long_labels(size: int) -> bytes:
    """Labels of ``size`` octets in all (length octets included), with no end."""
    out = b""
    while size:
        step = min(64, size)
        if size - step == 1:  # a remainder of one would be an empty label: the end
            step -= 1
        out += bytes([step - 1]) + b"x" * (step - 1)
        size -= step
    return out


def long_owner(total: int) -> bytes:
    """An answer whose owner name is ``total`` octets long, root included."""
    return header(an=1) + QUESTION + rr(long_labels(total - 1) + b"\x00", 1, bytes(4))


CNAME = 5
CRAFTED = {
    "a pointer to itself": (header() + pointer(12) + b"\x00\x01\x00\x01", None),
    # The question's name points at the answer's owner, which comes after it.
    "a forward pointer": (
        header(an=1) + pointer(18) + b"\x00\x01\x00\x01" + rr(QNAME, 1, bytes(4)),
        None,
    ),
    # The owner (at 26) points at the CNAME's data (at 38), which points back at the owner.
    "two pointers pointing at each other": (
        header(an=1) + QUESTION + rr(pointer(38), CNAME, pointer(26)),
        None,
    ),
    "a pointer into the header": (header(an=1) + QUESTION + rr(pointer(4), 1, bytes(4)), "ok"),
    "sixteen pointers in a row": (chain_of(16), "ok"),
    "seventeen pointers in a row": (chain_of(17), None),
    "a name of 255 octets": (long_owner(255), "ok"),
    "a name of 256 octets": (long_owner(256), None),
    "a name over 255 octets through compression": (
        header(an=1)
        + labels(b"q" * 63, b"q" * 63, b"q" * 63)
        + b"\x00\x01\x00\x01"
        + rr(bytes([62]) + b"r" * 62 + pointer(12), 1, bytes(4)),
        None,
    ),
    "a label length of 64 (a reserved label type)": (
        header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
        None,
    ),
    "an rdlength past the end": (
        header(an=1) + QUESTION + rr(pointer(12), 1, bytes(4), rdlength=5),
        None,
    ),
    # The root name that owns the next record would end the CNAME's name.
    "a CNAME whose name runs on into the next record": (
        header(an=2) + QUESTION + rr(pointer(12), CNAME, b"\x03sip") + rr(b"\x00", 1, bytes(4)),
        None,
    ),
    "a CNAME with octets after its name": (
        header(an=1) + QUESTION + rr(pointer(12), CNAME, pointer(12) + b"\x00"),
        None,
    ),
    "an SRV target beyond its data": (
        header(an=2)
        + QUESTION
        + rr(pointer(12), 33, bytes(6) + b"\x03sip")
        + rr(b"\x00", 1, bytes(4)),
        None,
    ),
    "a NAPTR string beyond its data": (
        header(an=2)
        + QUESTION
        + rr(pointer(12), 35, b"\x00\x0a\x00\x0a\x05s")
        + rr(b"\x00", 1, bytes(4)),
        None,
    ),
    "an empty TXT record": (header(an=1) + QUESTION + rr(pointer(12), 16, b""), None),
    "octets after the last record": (header(an=1) + QUESTION + A_RECORD + b"\x00", None),
    "an answer count larger than the answers": (header(an=2) + QUESTION + A_RECORD, None),
    "an answer count smaller than the answers": (
        header(an=1) + QUESTION + A_RECORD + A_RECORD,
        None,
    ),
    "an OPT record in the answer section": (header(an=1) + QUESTION + opt(), None),
    "two OPT records": (header(ar=2) + QUESTION + opt() + opt(), None),
    "an OPT record with an owner name": (header(ar=1) + QUESTION + opt(owner=pointer(12)), None),
    "an EDNS option beyond its record": (
        header(ar=1) + QUESTION + opt(options=b"\x00\x0a\x00\x09" + b"c" * 8),
        None,
    ),
    "BADVERS, an extended RCODE": (header(ar=1) + QUESTION + opt(extended=1), "rcode 16"),
    "a TTL with its top bit set": (
        header(an=1) + QUESTION + rr(pointer(12), 1, bytes(4), ttl=0x80000001),
        "ttl 0",
    ),
    "two SOA records in the authority section": (
        header(ns=2, flags=0x8583)
        + QUESTION
        + rr(pointer(16), SOA, SOA_DATA, ttl=50)
        + rr(pointer(16), SOA, SOA_DATA, ttl=20),
        "soa_ttl 20",
    ),
    "an SOA of class CH in the authority section": (
        header(ns=1, flags=0x8583) + QUESTION + rr(pointer(16), SOA, SOA_DATA, rdclass=3),
        "soa_ttl None",
    ),
    "a question of class CH": (header() + QNAME + b"\x00\x10\x00\x03", "question CH"),
    "no question": (header(qd=0, an=1) + rr(b"\x00", 1, bytes(4)), "no question"),
    "two questions": (header(qd=2) + QUESTION + QUESTION, "no question"),
    # Ours is stricter: these are not answers to a standard query.
    "a query, not a response": (header(flags=0x0100) + QUESTION, None),
    "a NOTIFY response": (header(flags=0x8000 | (4 << 11)) + QUESTION, None),
    # Ours is laxer: the data of records serweb never reads.
    "a malformed MX record": (header(an=1) + QUESTION + rr(pointer(12), 15, b"\x00"), "ok"),
    "a malformed A record of class CH": (
        header(an=1) + QUESTION + rr(pointer(12), 1, b"\x01", rdclass=3),
        "ok",
    ),
    "a malformed NS record in the authority section": (
        header(ns=1) + QUESTION + rr(pointer(12), 2, b"\x05ab"),
        "ok",
    ),
    "a TSIG record": (header(ar=1) + QUESTION + rr(b"\x00", 250, b"\x00", rdclass=255), "ok"),
    "a malformed client-subnet option": (
        header(ar=1) + QUESTION + opt(options=b"\x00\x08\x00\x01\x00"),
        "ok",
    ),
}


@pytest.mark.parametrize("what", sorted(CRAFTED))
def test_crafted_messages(what):
    message, expected = CRAFTED[what]

    reading = check(message)

    if expected is None:
        assert reading is None
        return
    assert reading is not None
    if expected == "rcode 16":
        assert reading.rcode == 16
    elif expected == "ttl 0":
        assert reading.answer[("sip.test", 1)][0] == 0
    elif expected.startswith("soa_ttl"):
        assert str(reading.soa_ttl) == expected.split()[1]
    elif expected == "question CH":
        assert reading.question == ("sip.test", 16, 3)
    elif expected == "no question":
        assert reading.question is None
    else:
        assert expected == "ok"


# --- mutations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the parts of a valid message are: names (offset, size), label length octets,
    and the rdlength field of each record."""

    names: tuple[tuple[int, int], ...]
    label_octets: tuple[int, ...]
    rdlengths: tuple[int, ...]


def layout(message: bytes) -> Layout:
    names, octets, rdlengths = [], [], []
    counts = struct.unpack_from("!HHHH", message, 4)
    offset = 12

    def name_at(offset: int) -> int:
        _name, size = dns.name.from_wire(message, offset)
        names.append((offset, size))
        position = offset
        while message[position] and message[position] < 0xC0:
            octets.append(position)
            position += 1 + message[position]
        return offset + size

    for _ in range(counts[0]):
        offset = name_at(offset) + 4
    for _ in range(sum(counts[1:])):
        offset = name_at(offset)
        rdlengths.append(offset + 8)
        offset += 10 + struct.unpack_from("!H", message, offset + 8)[0]
    return Layout(tuple(names), tuple(octets), tuple(rdlengths))


def _put(message: bytes, offset: int, data: bytes) -> bytes:
    return message[:offset] + data + message[offset + len(data) :]


# Repeated entries weigh a kind of change more.
IN_PLACE = (
    ["bits"] * 3 + ["byte"] * 2 + ["count", "rdlength", "rdlength", "label", "pointer", "loop"]
)


@st.composite
def in_place(draw, message: bytes, parts: Layout) -> bytes:
    """One change that keeps the message's length."""
    kind = draw(st.sampled_from(["bits", "byte", "count", "rdlength", "label", "pointer", "loop"]))
    if kind == "bits":
        for _ in range(draw(st.integers(1, 4))):
            position = draw(st.integers(0, len(message) - 1))
            flipped = message[position] ^ (1 << draw(st.integers(0, 7)))
            message = _put(message, position, bytes([flipped]))
        return message
    if kind == "byte":
        position = draw(st.integers(0, len(message) - 1))
        return _put(message, position, bytes([draw(st.integers(0, 255))]))
    if kind == "count":
        field = draw(st.integers(2, 5))
        old = struct.unpack_from("!H", message, field * 2)[0]
        new = draw(st.one_of(st.sampled_from([0, old + 1, max(old - 1, 0)]), st.integers(0, 65535)))
        return _put(message, field * 2, struct.pack("!H", new % 65536))
    if kind == "rdlength" and parts.rdlengths:
        position = draw(st.sampled_from(parts.rdlengths))
        old = struct.unpack_from("!H", message, position)[0]
        new = draw(st.one_of(st.integers(max(old - 3, 0), old + 3), st.integers(0, 65535)))
        return _put(message, position, struct.pack("!H", new))
    if kind == "label" and parts.label_octets:
        position = draw(st.sampled_from(parts.label_octets))
        value = draw(
            st.one_of(st.sampled_from([0, 1, 62, 63, 64, 127, 128, 191, 192]), st.integers(0, 255))
        )
        return _put(message, position, bytes([value]))
    if kind in ("pointer", "loop") and parts.names:
        first, _size = draw(st.sampled_from(parts.names))
        if kind == "pointer":
            target = draw(
                st.one_of(
                    st.just(first),  # itself
                    st.integers(first, min(len(message) + 2, 0x3FFF)),  # forward
                    st.integers(0, 0x3FFF),
                )
            )
            return _put(message, first, pointer(target))
        second, _size = draw(st.sampled_from(parts.names))
        return _put(_put(message, first, pointer(second)), second, pointer(first))
    return message


@st.composite
def resized(draw, message: bytes, parts: Layout) -> bytes:
    """One change of the message's length."""
    kind = draw(st.sampled_from(["truncate", "junk", "long name", "as is", "as is"]))
    if kind == "truncate":
        # Mostly past the header, where the records are.
        return message[: draw(st.integers(min(12, len(message) - 1), len(message) - 1))]
    if kind == "junk":
        return message + draw(st.binary(min_size=1, max_size=8))
    if kind == "long name" and parts.names:
        # About 255 octets, ending in the root or in a pointer to the question's name.
        offset, size = draw(st.sampled_from(parts.names))
        ending = draw(st.sampled_from([b"\x00", pointer(12)]))
        name = long_labels(draw(st.integers(230, 262)) - len(ending)) + ending
        return message[:offset] + name + message[offset + size :]
    return message


# --- messages dnspython renders, from records of every kind serweb reads and some it does not


def _name(labels: list[bytes], parent: dns.name.Name) -> dns.name.Name:
    return dns.name.Name([*labels, *parent.labels])


@st.composite
def rendered(draw) -> bytes:
    """A response rendered by dnspython (compressing names as it goes), with odd labels,
    TTLs over 2**31, extended RCODEs and EDNS options among its possibilities."""
    label = st.one_of(
        st.sampled_from([b"sip", b"_sip", b"_udp", b"Test", b"*"]),
        st.binary(min_size=1, max_size=12),
    )
    zone = _name(draw(st.lists(label, min_size=1, max_size=2)), dns.name.root)
    names = [zone] + [_name(draw(st.lists(label, min_size=1, max_size=2)), zone) for _ in range(3)]
    name = st.sampled_from(names)
    text = st.binary(max_size=40)
    rdatas = {
        dns.rdatatype.A: st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
        dns.rdatatype.AAAA: st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
        dns.rdatatype.CNAME: name,
        dns.rdatatype.NS: name,
        dns.rdatatype.SRV: st.tuples(
            st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535), name
        ),
        dns.rdatatype.NAPTR: st.tuples(
            st.integers(0, 65535), st.integers(0, 65535), text, text, text, name
        ),
        dns.rdatatype.TXT: st.lists(st.binary(max_size=255), min_size=1, max_size=3),
        dns.rdatatype.SOA: st.tuples(name, name, *[st.integers(0, 2**32 - 1)] * 5),
        dns.rdatatype.MX: st.tuples(st.integers(0, 65535), name),
    }
    message = dns.message.Message(id=draw(st.integers(0, 65535)))
    message.flags = dns.flags.QR | draw(st.sampled_from([0, dns.flags.AA, dns.flags.RA]))
    qtype = draw(st.sampled_from(sorted(rdatas)))
    message.find_rrset(message.question, draw(name), IN, qtype, create=True, force_unique=True)
    for _ in range(draw(st.integers(0, 6))):
        rdtype = draw(st.sampled_from(sorted(rdatas)))
        value = draw(rdatas[rdtype])
        rdclass = dns.rdata.get_rdata_class(IN, rdtype)
        args = value if isinstance(value, tuple) else (value,)
        rdata = rdclass(IN, rdtype, *args)
        section = draw(st.sampled_from([message.answer, message.authority, message.additional]))
        rrset = message.find_rrset(section, draw(name), IN, rdtype, create=True)
        rrset.add(rdata, draw(st.one_of(st.integers(0, 86400), st.integers(0, 2**32 - 1))))
    if draw(st.booleans()):
        options = [
            dns.edns.GenericOption(code, data)
            for code, data in draw(
                st.lists(st.tuples(st.integers(100, 65000), st.binary(max_size=8)), max_size=2)
            )
        ]
        message.use_edns(0, payload=1232, options=options)
    message.set_rcode(draw(st.sampled_from([0, 2, 3, 5, 16, 23])) if message.edns >= 0 else 3)
    # Unshuffled, so the same draw renders the same octets.
    return message.to_wire(max_size=65535, want_shuffle=False)


def test_rendered_messages_read_as_dnspython_reads_them():
    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(message=rendered())
    def run(message):
        assert check(message) is not None

    run()


@st.composite
def mutated(draw, corpus: list[bytes]) -> bytes:
    message = draw(st.one_of(st.sampled_from(corpus), rendered()))
    parts = layout(message)
    for _ in range(draw(st.integers(0, 3))):
        message = draw(in_place(message, parts))
    return draw(resized(message, parts))


def test_mutated_answers_read_as_dnspython_reads_them_or_fail_cleanly(answers):
    corpus = list(answers.values()) + [
        message for message, expected in CRAFTED.values() if expected is not None
    ]

    @settings(
        max_examples=400,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(message=mutated(corpus))
    def run(message):
        check(message)

    run()
