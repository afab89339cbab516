"""`domain verify NAME`: what DNS showed, the verdict, and the exit code."""

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from domains import services
from domains.models import DomainState, NameCheck, NameState
from subscribers.services import subscriber_create
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


# --- domain restore NAME ----------------------------------------------------------------------


def restore(name: str, capsys) -> tuple[int, str]:
    try:
        call_command("domain", "restore", name)
    except CommandError as exc:
        return exc.returncode, capsys.readouterr().out
    return 0, capsys.readouterr().out


@pytest.fixture
def removed(knot, dns_settings, alice):
    """A removed domain, with an alias and a subscriber kept while it can come back."""
    name = knot.unique("gone")
    domain = services.domain_create(actor=alice, name=name, aliases=[f"sip.{name}"])
    subscriber_create(actor=alice, domain=domain, username="ivy", password="ivy-secret-1")
    services.domain_set_state(actor=alice, domain=domain, state=DomainState.REMOVED)
    return domain


def test_restore_brings_a_removed_domain_back_when_dns_points_at_us(removed, knot, capsys):
    knot.srv(removed.did, PROXY_HOSTNAMES[0])

    # Any name of the domain will do.
    code, out = restore(f"sip.{removed.did}", capsys)

    assert code == 0
    assert f"restored:   {removed.did}: removed -> active" in out
    assert "verdict:    ours: points at us" in out
    removed.refresh_from_db()
    assert removed.state == DomainState.ACTIVE and removed.is_served
    assert removed.subscribers.get().username == "ivy"
    assert AuditEntry.objects.filter(action="domain.state_pending", did=removed.did).exists()


def test_restore_without_dns_pointing_at_us_leaves_it_pending_and_exits_1(removed, knot, capsys):
    knot.srv(removed.did, f"sip.{removed.did}")
    knot.add(f"sip.{removed.did}", "A", "198.51.100.9")

    code, out = restore(removed.did, capsys)

    assert code == 1
    assert f"restored:   {removed.did}: removed -> pending" in out
    assert "198.51.100.9" in out
    removed.refresh_from_db()
    assert removed.state == DomainState.PENDING and not removed.is_served


def test_restore_when_dns_does_not_answer_exits_2(removed, dns_settings, silent_port, capsys):
    dns_settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]

    code, out = restore(removed.did, capsys)

    assert code == 2
    assert "verdict:    unknown" in out
    removed.refresh_from_db()
    assert removed.state == DomainState.PENDING


def test_restore_refuses_a_domain_that_is_not_removed(knot, dns_settings, alice):
    name = knot.unique("here")
    services.domain_create(actor=alice, name=name)

    with pytest.raises(CommandError, match=f"domain {name} is active, not removed"):
        call_command("domain", "restore", name)


def test_restore_of_an_unknown_name_is_an_error(dns_settings, db):
    with pytest.raises(CommandError, match="no domain named"):
        call_command("domain", "restore", "nowhere.example.org")


# --- the names of a domain --------------------------------------------------------------------


def run_domain(capsys, *args: str) -> tuple[int, str, str]:
    try:
        call_command("domain", *args)
    except CommandError as exc:
        captured = capsys.readouterr()
        return exc.returncode, captured.out, str(exc)
    captured = capsys.readouterr()
    return 0, captured.out, captured.err


@pytest.fixture
def two_names(knot, dns_settings, alice):
    """A domain whose canonical name points at us and whose alias does not exist."""
    name = knot.unique("names")
    knot.srv(name, PROXY_HOSTNAMES[0])
    return services.domain_create(actor=alice, name=name, aliases=[f"sip.{name}", "192.0.2.77"])


def test_verify_tells_what_each_name_did(two_names, capsys):
    did = two_names.did
    code, out, _err = run_domain(capsys, "verify", did)

    assert code == 0  # the domain points at us through its canonical name
    assert f"name:       {did} active: ours" in out
    assert f"name:       sip.{did} active -> suspect: absent" in out


def test_show_gives_each_names_state_last_check_and_the_history(two_names, capsys):
    did = two_names.did
    run_domain(capsys, "verify", did)

    code, out, _err = run_domain(capsys, "show", did)

    assert code == 0
    lines = out.splitlines()
    at = lines.index(f"names:        {did} [hostname, canonical] active")
    assert lines[at + 1].startswith("                checked ")
    assert lines[at + 1].endswith(f": ours, points at us: {PROXY_HOSTNAMES[0]}")
    # An IP literal no longer among the proxy addresses is reported, and not served.
    assert lines[at + 2].startswith("              192.0.2.77 [ipv4] disabled since ")
    assert lines[at + 2].endswith(": not one of the proxy addresses, not served")
    assert lines[at + 3].endswith(": foreign, 192.0.2.77 is not one of the proxy addresses")
    assert lines[at + 4].startswith(f"              sip.{did} [hostname] suspect since ")
    assert lines[at + 5].endswith(": absent, the domain does not exist (NXDOMAIN)")
    at = next(i for i, line in enumerate(lines) if line.startswith("dns history:  "))
    history = lines[at : at + 2]
    assert history[0].endswith("192.0.2.77: active -> disabled (foreign)")
    assert history[1].endswith(f"sip.{did}: active -> suspect (absent)")


def test_an_operator_exempts_a_name_and_puts_it_back(two_names, capsys):
    did = two_names.did
    run_domain(capsys, "verify", did)

    code, out, _err = run_domain(capsys, "alias", "exempt", did, f"SIP.{did}")
    assert code == 0
    assert f"sip.{did} of domain {did} is exempt from DNS housekeeping" in out
    shown = run_domain(capsys, "show", did)[1]
    assert f"sip.{did} [hostname] active, exempt from DNS housekeeping" in shown
    entry = AuditEntry.objects.get(action="domain.name_exempt")
    assert (entry.channel, entry.before["state"], entry.after["state"]) == (
        "cli",
        "suspect",
        "active",
    )

    code, out, _err = run_domain(capsys, "alias", "exempt", did, f"sip.{did}", "--off")
    assert code == 0 and "under DNS housekeeping again" in out
    assert AuditEntry.objects.filter(action="domain.name_managed").count() == 1


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("other.example.org", "is not a name of domain"),
        ("bad..name", "name:"),
    ],
)
def test_exempting_refuses_what_is_no_name_of_the_domain(two_names, capsys, alias, message):
    code, _out, error = run_domain(capsys, "alias", "exempt", two_names.did, alias)

    assert code == 1
    assert message in error
    assert not AuditEntry.objects.filter(action="domain.name_exempt").exists()


def test_an_operator_restores_a_removed_name(two_names, knot, capsys):
    did = two_names.did
    code, _out, error = run_domain(capsys, "alias", "restore", did, f"sip.{did}")
    assert code == 1
    assert f"sip.{did} is active, not removed" in error

    NameCheck.objects.create(name=two_names.names.get(name=f"sip.{did}"), state=NameState.REMOVED)
    knot.srv(f"sip.{did}", PROXY_HOSTNAMES[1])
    code, out, _err = run_domain(capsys, "alias", "restore", did, f"sip.{did}")

    assert code == 0, out
    assert f"restored:   sip.{did} of {did}: removed -> active" in out
    assert NameCheck.objects.get(name__name=f"sip.{did}").state == NameState.ACTIVE
