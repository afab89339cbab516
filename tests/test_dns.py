"""domains.dns (the client, resolution and the SIP checks) against a real authoritative
server (Knot on a loopback port)."""

import socket
import threading
import time

import dns.flags as dnspython_flags
import dns.message as dnspython_message
import pytest

from domains.dns import wire
from domains.dns.client import Answer, Status, UdpClient
from domains.dns.resolution import (
    ResolverClient,
    authoritative_servers,
    find_zone,
    parse_nameserver,
    run_dns,
    stock_resolver,
    txt_values,
)
from domains.dns.sip import ProxyIdentity, SipCheck, TargetCache, Verdict, check_sip_domain
from tests import dns_harness
from tests.dns_harness import BROKEN_ZONE, PROXY_ADDRESSES, PROXY_HOSTNAMES, REFUSED_NAME

knot = dns_harness.knot
silent_port = dns_harness.silent_port

PROXY = ProxyIdentity.build(PROXY_HOSTNAMES, PROXY_ADDRESSES)


def lean(nameserver: str, *, timeout: float = 0.2, lifetime: float = 0.4) -> UdpClient:
    return UdpClient([parse_nameserver(nameserver)], timeout=timeout, lifetime=lifetime)


def stock(nameserver: str, *, timeout: float = 0.2, lifetime: float = 0.4) -> ResolverClient:
    resolver = stock_resolver([parse_nameserver(nameserver)], timeout=timeout)
    return ResolverClient(resolver, lifetime=lifetime)


CLIENTS = {"lean": lean, "stock": stock}


@pytest.fixture(params=sorted(CLIENTS))
def make_client(request):
    return CLIENTS[request.param]


def check(client_factory, nameserver: str, name: str) -> SipCheck:
    async def run() -> SipCheck:
        async with client_factory(nameserver) as client:
            return await check_sip_domain(name, client=client, targets=TargetCache(PROXY))

    return run_dns(run())


def ask(client_factory, nameserver: str, name: str, rdtype: str) -> Answer:
    async def run() -> Answer:
        async with client_factory(nameserver) as client:
            return await client.query(name, rdtype)

    return run_dns(run())


# --- "points at us" -----------------------------------------------------------------------


def test_naptr_leads_to_srv_records_whose_target_has_our_address(knot, make_client):
    domain = knot.unique()
    knot.add(
        domain,
        "NAPTR",
        f'10 10 "s" "SIP+D2U" "" _sip._udp.{domain}.',
        f'20 10 "s" "SIPS+D2T" "" _sips._tcp.{domain}.',
        # Not a SIP service: never followed.
        f'5 10 "s" "E2U+sip" "" _other._udp.{domain}.',
    )
    knot.srv(domain, f"sip.{domain}", services=["_sip._udp", "_sips._tcp", "_sip._tcp"])
    knot.add(f"sip.{domain}", "A", "192.0.2.10")
    knot.add(f"sip.{domain}", "AAAA", "2001:db8::10")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.OURS
    assert [a.name for a in result.srv] == [f"_sip._udp.{domain}", f"_sips._tcp.{domain}"]
    assert result.targets[0].addresses == ("192.0.2.10", "2001:db8::10")
    assert result.matched == [f"sip.{domain}"]
    assert result.to_evidence()["naptr"]["records"][1].startswith('10 10 "s" "SIP+D2U"')


def test_srv_without_naptr_naming_a_proxy_host_needs_no_address_lookup(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, PROXY_HOSTNAMES[0], services=["_sip._udp", "_sip._tcp"])

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.OURS
    assert result.targets[0].reason == "a proxy host name"
    # NAPTR plus the three SRV names of RFC 3263, nothing for the target.
    assert result.queries == 4


def test_without_srv_the_domains_own_addresses_are_used(knot, make_client):
    domain = knot.unique()
    knot.add(domain, "A", "192.0.2.11")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.OURS
    assert result.address_fallback
    assert result.targets[0].name == domain
    assert result.targets[0].port == 5060


def test_a_cname_chain_as_target_is_followed_with_a_warning(knot, make_client):
    domain = knot.unique()
    knot.add(f"sip.{domain}", "CNAME", f"hop.{domain}.")
    knot.add(f"hop.{domain}", "CNAME", f"{PROXY_HOSTNAMES[1]}.")
    knot.srv(domain, f"sip.{domain}")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.OURS
    assert result.targets[0].cnames[-1] == PROXY_HOSTNAMES[1]
    assert any("RFC 2782" in warning for warning in result.warnings)


def test_a_cname_to_a_foreign_host_is_not_ours(knot, make_client):
    domain = knot.unique()
    knot.add(f"sip.{domain}", "CNAME", f"elsewhere.{domain}.")
    knot.add(f"elsewhere.{domain}", "A", "198.51.100.7")
    knot.srv(domain, f"sip.{domain}")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.FOREIGN
    assert result.targets[0].addresses == ("198.51.100.7",)


def test_a_dot_target_means_sip_is_not_offered_and_there_is_no_fallback(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, ".")
    # An address that would be ours if the fallback were (wrongly) taken.
    knot.add(domain, "A", "192.0.2.10")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.UNAVAILABLE
    assert result.verdict.is_negative
    assert not result.address_fallback


def test_a_dot_beside_a_real_target_leaves_the_real_one(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, ".", services=["_sips._tcp"])
    knot.srv(domain, PROXY_HOSTNAMES[0], services=["_sip._udp"])

    assert check(make_client, knot.nameserver, domain).verdict == Verdict.OURS


def test_an_idn_domain_is_checked_in_its_a_label_form(knot, make_client):
    # straße.test in IDNA 2008 (IDNA 2003 would have made it strasse.test).
    domain = f"xn--strae-oqa.{knot.unique('idn')}"
    knot.srv(domain, PROXY_HOSTNAMES[0])

    assert check(make_client, knot.nameserver, domain).verdict == Verdict.OURS


def test_srv_to_a_foreign_host_is_foreign(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, f"sip.{domain}")
    knot.add(f"sip.{domain}", "A", "198.51.100.1")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.FOREIGN
    assert not result.matched
    assert "198.51.100.1" in result.targets[0].reason


def test_our_ipv4_with_a_foreign_ipv6_address_is_not_ours(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, f"sip.{domain}")
    knot.add(f"sip.{domain}", "A", "192.0.2.10")
    knot.add(f"sip.{domain}", "AAAA", "2001:db8::99")

    assert check(make_client, knot.nameserver, domain).verdict == Verdict.FOREIGN


def test_one_of_two_targets_ours_is_partial(knot, make_client):
    domain = knot.unique()
    knot.add(f"_sip._udp.{domain}", "SRV", f"10 10 5060 {PROXY_HOSTNAMES[0]}.")
    knot.add(f"_sip._tcp.{domain}", "SRV", f"10 10 5060 backup.{domain}.")
    knot.add(f"backup.{domain}", "A", "198.51.100.2")

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.PARTIAL
    assert result.matched == [PROXY_HOSTNAMES[0]]


def test_a_target_without_addresses_is_not_usable(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, f"nothing.{domain}")

    assert check(make_client, knot.nameserver, domain).verdict == Verdict.ABSENT


def test_a_domain_that_does_not_exist_ends_the_search_at_once(knot, make_client):
    result = check(make_client, knot.nameserver, knot.unique("gone"))

    assert result.verdict == Verdict.ABSENT
    assert result.naptr.status == Status.NXDOMAIN
    assert result.queries == 1


def test_a_domain_with_nothing_sip_is_absent(knot, make_client):
    domain = knot.unique()
    knot.add(domain, "TXT", '"just text"')

    result = check(make_client, knot.nameserver, domain)

    assert result.verdict == Verdict.ABSENT
    assert result.naptr.status == Status.NODATA


# --- failures are unknown, never negative ---------------------------------------------------


@pytest.mark.parametrize("name", [f"x.{BROKEN_ZONE}", REFUSED_NAME])
def test_servfail_and_refused_are_unknown(knot, make_client, name):
    result = check(make_client, knot.nameserver, name)

    assert result.verdict == Verdict.UNKNOWN
    assert not result.verdict.is_negative


def test_a_server_that_never_answers_is_unknown_within_the_lifetime(silent_port, make_client):
    started = time.monotonic()
    result = check(make_client, silent_port.nameserver, "anything.test")

    assert result.verdict == Verdict.UNKNOWN
    assert time.monotonic() - started < 2


def test_a_second_nameserver_answers_when_the_first_is_silent(knot, silent_port):
    servers = [parse_nameserver(silent_port.nameserver), parse_nameserver(knot.nameserver)]
    domain = knot.unique()
    knot.srv(domain, PROXY_HOSTNAMES[0])

    async def run():
        async with UdpClient(servers, timeout=0.1, lifetime=1.0) as client:
            return await check_sip_domain(domain, client=client, targets=TargetCache(PROXY))

    assert run_dns(run()).verdict == Verdict.OURS


def test_a_target_that_fails_makes_the_whole_verdict_unknown(knot, make_client):
    domain = knot.unique()
    knot.srv(domain, f"sip.{BROKEN_ZONE}")

    assert check(make_client, knot.nameserver, domain).verdict == Verdict.UNKNOWN


def test_nxdomain_and_nodata_are_the_negative_answers(knot, make_client):
    domain = knot.unique()
    knot.add(domain, "A", "192.0.2.1")

    assert ask(make_client, knot.nameserver, domain, "AAAA").status == Status.NODATA
    assert ask(make_client, knot.nameserver, f"no.{domain}", "A").status == Status.NXDOMAIN
    assert Status.NODATA.is_negative and Status.NXDOMAIN.is_negative
    assert not Status.UNKNOWN.is_negative


def test_a_fresh_record_is_seen_at_once_after_a_negative_answer(knot):
    # No cache: "check now" must not be fooled by the negative answer of a minute ago.
    domain = knot.unique()
    assert ask(lean, knot.nameserver, domain, "A").status == Status.NXDOMAIN
    knot.add(domain, "A", "192.0.2.10")
    assert ask(lean, knot.nameserver, domain, "A").records == ("192.0.2.10",)


def test_negative_answers_carry_the_soa_negative_ttl(knot):
    answer = ask(lean, knot.nameserver, knot.unique(), "A")

    assert answer.status == Status.NXDOMAIN
    assert answer.ttl == 60


# --- TXT ------------------------------------------------------------------------------------


def test_the_strings_of_one_txt_record_are_joined_without_separator(knot, make_client):
    name = knot.unique()
    knot.add(name, "TXT", '"realm=ex" "ample.test"', '"display_name=Main"')

    values = txt_values(ask(make_client, knot.nameserver, name, "TXT"))

    assert sorted(values) == [b"display_name=Main", b"realm=example.test"]


def test_a_txt_set_too_large_for_udp_is_fetched_over_tcp(knot, make_client):
    name = knot.unique()
    records = [f'"attribute{i}={"x" * 200}"' for i in range(10)]
    knot.add(name, "TXT", *records)

    answer = ask(make_client, knot.nameserver, name, "TXT")

    assert answer.status == Status.ANSWER
    assert len(answer.records) == 10


class TruncatingServer:
    """On a loopback port: over UDP, a truncated answer to each query; over TCP, an answer
    that ``tcp_answer(query)`` makes, which may be to another question."""

    def __init__(self, tcp_answer) -> None:
        self.tcp_answer = tcp_answer
        self.port = dns_harness.free_loopback_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((dns_harness.LOOPBACK, self.port))
        self.udp.settimeout(0.05)
        self.tcp = socket.create_server((dns_harness.LOOPBACK, self.port))
        self.tcp.settimeout(0.05)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f) for f in (self._serve_udp, self._serve_tcp)]
        for thread in self.threads:
            thread.start()

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(4096)
            except TimeoutError:
                continue
            response = dnspython_message.make_response(dnspython_message.from_wire(data))
            response.flags |= dnspython_flags.TC | dnspython_flags.AA
            self.udp.sendto(response.to_wire(), peer)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _peer = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                size = int.from_bytes(_received(conn, 2), "big")
                wire = _received(conn, size)
                if not size or len(wire) < size:
                    continue  # the client hung up before its query was whole
                query = dnspython_message.from_wire(wire)
                answer = self.tcp_answer(query).to_wire()
                conn.sendall(len(answer).to_bytes(2, "big") + answer)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.udp.close()
        self.tcp.close()


def _received(conn, size: int) -> bytes:
    """Up to ``size`` bytes from ``conn``, fewer only when the peer closed or went quiet."""
    data = b""
    while len(data) < size:
        try:
            chunk = conn.recv(size - len(data))
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _answer_to(name: str, query_id: int):
    query = dnspython_message.make_query(name, "A")
    query.id = query_id
    response = dnspython_message.make_response(query)
    response.flags |= dnspython_flags.AA
    return response


@pytest.mark.parametrize(
    "tcp_answer",
    [
        pytest.param(lambda q: _answer_to("other.test", q.id), id="another name"),
        pytest.param(lambda q: _answer_to("sip.test", q.id ^ 1), id="another id"),
    ],
)
def test_an_answer_over_tcp_to_another_query_says_nothing(tcp_answer):
    # Otherwise its empty answer would count as NODATA: evidence against the name.
    server = TruncatingServer(tcp_answer)
    try:
        answer = ask(lean, f"{dns_harness.LOOPBACK}:{server.port}", "sip.test", "A")
    finally:
        server.close()

    assert answer.status == Status.UNKNOWN
    assert "answer to another question (TCP)" in answer.error


# --- authoritative servers ------------------------------------------------------------------


def test_the_zone_and_its_servers_are_found(knot):
    domain = knot.unique()

    async def run():
        async with lean(knot.nameserver) as client:
            zone, _error = await find_zone(f"a.b.{domain}", client)
            servers, _error = await authoritative_servers(zone, client, port=knot.port)
            return zone, servers

    assert run_dns(run()) == ("test", [("127.0.0.1", knot.port)])


# --- pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("2001:DB8::1", ("2001:db8::1", 53)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
    ],
)
def test_nameservers_are_parsed(text, expected):
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["ns.example.com", "192.0.2.1:0", "192.0.2.1:x", "[::1]5353"])
def test_bad_nameservers_are_refused(text):
    with pytest.raises(ValueError):
        parse_nameserver(text)


def test_a_compression_loop_is_a_malformed_answer():
    header = bytes.fromhex("abcd8180" + "0001" + "0000" * 3)
    # The question's name is a pointer to itself.
    message = header + bytes.fromhex("c00c") + b"\x00\x01\x00\x01"
    with pytest.raises(wire.WireError):
        wire.parse_response(message)


def test_odd_bytes_in_a_label_are_escaped_not_taken_as_dots():
    header = bytes.fromhex("abcd8180" + "0001" + "0000" * 3)
    message = header + b"\x03a.b\x04test\x00" + b"\x00\x01\x00\x01"
    assert wire.parse_response(message).question == ("a\\046b.test", 1, 1)
