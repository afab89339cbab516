"""`domain verify NAME`: what DNS showed, the verdict, and the exit code."""

import pytest
from django.core.management import CommandError, call_command

from domains import services
from domains.models import DomainState
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings
silent_port = dns_harness.silent_port


def verify(name: str, capsys) -> tuple[int, str]:
    try:
        call_command("domain", "verify", name)
    except CommandError as exc:
        return exc.returncode, capsys.readouterr().out
    return 0, capsys.readouterr().out


def test_a_domain_that_points_at_us_exits_0_and_shows_what_was_seen(
    knot, dns_settings, alice, capsys
):
    name = knot.unique("cmd")
    knot.srv(name, PROXY_HOSTNAMES[0])
    knot.add(f"_serweb-config.{name}", "TXT", '"max_contacts=2"')
    services.domain_create(actor=alice, name=name)

    code, out = verify(name, capsys)

    assert code == 0
    assert f"domain:     {name} ({name}), state active" in out
    assert "verdict:    ours: points at us" in out
    assert f"SRV _sip._udp.{name}: answer 10 10 5060 {PROXY_HOSTNAMES[0]}" in out
    assert f"target:     {PROXY_HOSTNAMES[0]}:5060 ours: a proxy host name" in out
    assert "attributes: imported max_contacts=2" in out


def test_a_domain_that_does_not_exits_1_and_moves(knot, dns_settings, alice, capsys):
    name = knot.unique("cmd")
    knot.srv(name, f"sip.{name}")
    knot.add(f"sip.{name}", "A", "198.51.100.4")
    domain = services.domain_create(actor=alice, name=name)

    code, out = verify(name, capsys)

    assert code == 1
    assert "state active -> suspect" in out
    assert "198.51.100.4" in out
    domain.refresh_from_db()
    assert domain.state == DomainState.SUSPECT


def test_no_answer_exits_2_and_changes_nothing(dns_settings, silent_port, alice, capsys):
    dns_settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]
    domain = services.domain_create(actor=alice, name="quiet.example.net")

    code, out = verify("quiet.example.net", capsys)

    assert code == 2
    assert "verdict:    unknown" in out
    domain.refresh_from_db()
    assert domain.state == DomainState.ACTIVE


def test_a_name_serweb_does_not_serve_is_only_looked_at(knot, dns_settings, db, capsys):
    name = knot.unique("cmd")
    knot.srv(name, PROXY_HOSTNAMES[1])

    code, out = verify(name, capsys)

    assert code == 0
    assert "not a serweb domain: nothing recorded" in out


def test_an_ip_address_is_refused(dns_settings, db):
    with pytest.raises(CommandError, match="IP address"):
        call_command("domain", "verify", "192.0.2.1")
