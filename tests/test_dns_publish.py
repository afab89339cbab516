"""What a tenant is told to publish, and what serweb sees of each record: through its
resolver and from every authoritative server of the zone, a stale cache and a secondary
lagging behind named as such (a second Knot server on another loopback address plays the
cache, or the secondary)."""

from dataclasses import replace

import dns.query
import dns.update
import pytest

from domains.dns.failures import failing_records
from domains.dns.policy import DnsPolicy
from domains.dns.publish import (
    attribute_records,
    domain_records,
    parse_transports,
    relative,
    zone_snippet,
)
from domains.dns.records import Seen, records_check
from domains.dns.resolution import run_dns
from tests import dns_harness
from tests.dns_harness import LOOPBACK, PROXY_HOSTNAMES, ZONE, KnotServer

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

OTHER_LOOPBACK = "127.0.0.2"


def policy_with(**changes) -> DnsPolicy:
    return replace(DnsPolicy.from_settings(), **changes)


def test_one_srv_record_per_transport_and_proxy_host_name(dns_settings):
    records = domain_records("voice.example.org", token="tok-en_1", policy=policy_with())
    lines = zone_snippet("voice.example.org", records).splitlines()
    assert lines == [
        "; serweb: the DNS records of voice.example.org",
        "_sip._udp.voice.example.org. 3600 IN SRV 10 10 5060 proxy1.serweb.test.",
        "_sip._udp.voice.example.org. 3600 IN SRV 10 10 5060 proxy2.serweb.test.",
        "_sip._tcp.voice.example.org. 3600 IN SRV 10 10 5060 proxy1.serweb.test.",
        "_sip._tcp.voice.example.org. 3600 IN SRV 10 10 5060 proxy2.serweb.test.",
        "_sips._tcp.voice.example.org. 3600 IN SRV 10 10 5061 proxy1.serweb.test.",
        "_sips._tcp.voice.example.org. 3600 IN SRV 10 10 5061 proxy2.serweb.test.",
        '_serweb-challenge.voice.example.org. 3600 IN TXT "tok-en_1"',
    ]


def test_the_fields_web_dns_editors_ask_for(dns_settings):
    policy = policy_with(transports=("tls:5061",), proxy_hostnames=("sip.operator.net",))
    srv, txt = domain_records("voice.example.org", token="t0ken", policy=policy)
    assert (srv.service, srv.protocol, srv.priority, srv.weight, srv.port, srv.target) == (
        "_sips",
        "_tcp",
        10,
        10,
        5061,
        "sip.operator.net",
    )
    # Host names relative to the zone; "@" for its apex.
    assert srv.host("example.org") == "_sips._tcp.voice"
    assert srv.srv_host("example.org") == "voice"
    assert srv.srv_host("voice.example.org") == "@"
    assert txt.host("example.org") == "_serweb-challenge.voice"
    # TXT values as editors take them: no quotes.
    assert txt.value == "t0ken" and txt.rdata == '"t0ken"'
    assert srv.value == "10 10 5061 sip.operator.net"
    assert relative("a.example.net", "example.org") == "a.example.net."


def test_attributes_are_offered_as_optional_commented_lines(dns_settings):
    records = attribute_records(
        "voice.example.org", values={"max_contacts": "3"}, config_label="_serweb-config"
    )
    snippet = zone_snippet("voice.example.org", records)
    assert '; _serweb-config.voice.example.org. 3600 IN TXT "max_contacts=3"' in snippet
    assert all(record.optional for record in records)


def test_transports_from_the_setting():
    assert [(t.name, t.port, t.service, t.protocol) for t in parse_transports(["TLS:5061"])] == [
        ("tls", 5061, "_sips", "_tcp")
    ]


def publish(knot, records) -> None:
    knot.update(add=[(r.name, r.rdtype, r.rdata) for r in records])


def test_every_record_found_through_the_resolver_and_at_the_zones_server(knot, dns_settings):
    name = knot.unique("pub")
    policy = policy_with(transports=("udp:5060", "tls:5061"))
    records = domain_records(name, token="tok", policy=policy)
    publish(knot, records)

    steps = []
    report = records_check(
        name, records, policy=policy, progress=lambda r, total: steps.append((len(r.checks), total))
    )

    assert report.zone == ZONE and report.error == ""
    assert [(s.host, s.address) for s in report.servers] == [("ns.test", LOOPBACK)]
    assert report.servers[0].serial
    assert [check.seen for check in report.checks] == [Seen.FOUND] * 5
    assert steps == [(i, 5) for i in range(1, 6)]
    check = report.checks[0].to_json()
    assert check["servers"][0]["where"] == f"ns.test ({LOOPBACK})"
    assert check["resolver"]["found"] == [f"10 10 5060 {host}." for host in PROXY_HOSTNAMES]


def test_missing_and_wrong_records_say_what_was_found(knot, dns_settings):
    name = knot.unique("bad")
    policy = policy_with(transports=("udp:5060",), proxy_hostnames=(PROXY_HOSTNAMES[0],))
    records = domain_records(name, token="right-token", policy=policy)
    knot.add(f"_sip._udp.{name}", "SRV", "10 10 5060 elsewhere.example.")
    knot.add(f"_serweb-challenge.{name}", "TXT", '"wrong-token"')

    srv, txt = records_check(name, records, policy=policy).checks
    assert srv.seen == Seen.WRONG and srv.resolver.found == ("10 10 5060 elsewhere.example.",)
    assert txt.seen == Seen.WRONG and txt.servers[0].found == ("wrong-token",)

    knot.remove(f"_serweb-challenge.{name}")
    _srv, txt = records_check(name, records, policy=policy).checks
    assert txt.seen == Seen.MISSING and txt.resolver.found == ()


@pytest.fixture
def second_server(knot, tmp_path):
    """Another Knot for the test zone on 127.0.0.2, same port, with the zone as it was
    before the tests changed it; ``ns2`` as one of the zone's servers, when asked."""
    servers = []

    def start(*, listed: bool) -> KnotServer:
        extra = f"@ NS ns2.{ZONE}.\nns2 A {OTHER_LOOPBACK}\n" if listed else ""
        server = KnotServer(tmp_path, extra_zone_text=extra, address=OTHER_LOOPBACK, port=knot.port)
        server.start()
        servers.append(server)
        if listed:
            _ns2(knot, add=True)
        return server

    yield start
    for server in servers:
        server.stop()
    _ns2(knot, add=False)


def _ns2(knot, *, add: bool) -> None:
    message = dns.update.UpdateMessage(f"{ZONE}.")
    if add:
        message.add(f"{ZONE}.", 60, "NS", f"ns2.{ZONE}.")
        message.add(f"ns2.{ZONE}.", 60, "A", OTHER_LOOPBACK)
    else:
        message.delete(f"{ZONE}.", "NS", f"ns2.{ZONE}.")
        message.delete(f"ns2.{ZONE}.")
    dns.query.tcp(message, LOOPBACK, port=knot.port, timeout=5)


def test_a_secondary_server_lagging_behind_is_named(knot, dns_settings, second_server):
    second_server(listed=True)
    name = knot.unique("lag")
    policy = policy_with(transports=("udp:5060",), proxy_hostnames=(PROXY_HOSTNAMES[0],))
    records = domain_records(name, token="tok", policy=policy)
    publish(knot, records)

    report = records_check(name, records, policy=policy)

    assert [s.host for s in report.servers] == ["ns.test", "ns2.test"]
    serials = {s.host: s.serial for s in report.servers}
    assert serials["ns2.test"] == 1 < serials["ns.test"]
    for check in report.checks:
        assert [v.seen for v in check.servers] == [Seen.FOUND, Seen.MISSING]
        assert check.seen == Seen.MISSING
        assert f"ns2.test ({OTHER_LOOPBACK}) (zone serial 1) does not have it yet" in check.note
        assert "secondary" in check.note


def test_a_stale_resolver_cache_is_named(knot, dns_settings, second_server):
    stale = second_server(listed=False)
    name = knot.unique("cached")
    policy = policy_with(
        transports=("udp:5060",),
        proxy_hostnames=(PROXY_HOSTNAMES[0],),
        nameservers=((OTHER_LOOPBACK, stale.port),),
    )
    records = domain_records(name, token="tok", policy=policy)
    publish(knot, records)

    for check in records_check(name, records, policy=policy).checks:
        assert check.resolver.seen == Seen.MISSING
        assert [v.seen for v in check.servers] == [Seen.FOUND]
        assert "still answers from its cache" in check.note
        assert f"at most {check.resolver.ttl} s" in check.note


def test_failing_records_from_a_checks_evidence(dns_settings):
    policy = policy_with(transports=("udp:5060",), proxy_hostnames=("proxy1.serweb.test",))
    expected = domain_records("gone.test", token="tok", policy=policy)
    evidence = {
        "domain": "gone.test",
        "naptr": {"name": "gone.test", "status": "nodata"},
        "srv": [
            {"name": "_sip._udp.gone.test", "status": "answer", "records": ["0 5 5060 x.example"]}
        ],
        "ownership": {"status": "missing"},
    }
    srv, txt = failing_records(evidence, expected)
    assert srv.expected == "_sip._udp.gone.test SRV 10 10 5060 proxy1.serweb.test."
    assert srv.found == "only 0 5 5060 x.example."
    assert txt.record.rdtype == "TXT"
    evidence["naptr"]["status"] = "nxdomain"
    assert failing_records(evidence, expected)[0].found == "nothing: the domain does not exist"


def test_dns_work_runs_from_code_under_a_running_event_loop(knot, dns_settings):
    # An async server's loop, or a browser driver's, may run in the calling thread.
    name = knot.unique("loop")
    policy = policy_with(transports=("udp:5060",))
    records = domain_records(name, token="tok", policy=policy)
    publish(knot, records)

    async def from_a_coroutine():
        return records_check(name, records, policy=policy)

    report = run_dns(from_a_coroutine())
    assert [check.seen for check in report.checks] == [Seen.FOUND] * 3
