"""A tenant hears of its domains' DNS by mail: live, suspect (which record fails, what was
expected and found, when it could be switched off), once more before the switch-off, and
back. Operators' domains send nothing; a mail server that refuses loses the mail only."""

from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from domains.dns.claims import domain_claim_start, domain_claim_verify
from domains.dns.housekeeping import housekeeping_run
from domains.dns.verification import domain_verify
from domains.models import DomainCheck, DomainState, NameCheck, NameState
from domains.services import domain_create, domain_name_add
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES
from tests.portal_helpers import elements, page_tree, text_of

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

pytestmark = pytest.mark.django_db(transaction=True)


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")


@pytest.fixture
def live_domain(knot, dns_settings, bob, mailoutbox):
    """A tenant's domain, claimed and live, its records published; the mails so far gone."""
    dns_settings.SERWEB_SIP_TRANSPORTS = ["udp:5060"]
    name = knot.unique("mail")
    knot.srv(name, PROXY_HOSTNAMES[0])
    knot.srv(name, PROXY_HOSTNAMES[1])
    claim = domain_claim_start(actor=bob, tenant=bob.tenant, name=name)
    knot.add(f"_serweb-challenge.{name}", "TXT", f'"{claim.token}"')
    domain_claim_verify(actor=bob, claim=claim)
    claim.refresh_from_db()
    return claim.domain


def test_the_tenant_is_told_when_its_claimed_domain_goes_live(live_domain, mailoutbox):
    [mail] = mailoutbox
    assert mail.to == ["bob@tenant.test"]
    assert mail.subject == f"[serweb] {live_domain.did} is live"
    assert "told its proxies" in mail.body
    assert live_domain.state == DomainState.ACTIVE


def test_the_first_negative_mails_the_failing_records(live_domain, knot, mailoutbox):
    mailoutbox.clear()
    knot.remove(f"_sip._udp.{live_domain.did}", "SRV")

    assert domain_verify(domain=live_domain).to_state == DomainState.SUSPECT

    [mail] = mailoutbox
    assert "not what serweb needs" in mail.subject
    assert f"expected: _sip._udp.{live_domain.did} SRV 10 10 5060 {PROXY_HOSTNAMES[0]}." in (
        mail.body
    )
    assert "found:    nothing (the name does not exist)" in mail.body
    words = " ".join(mail.body.split())
    assert "The domain is still served." in words and "serweb may switch it off from" in words
    assert 'press "Check now" on the domain\'s page under "Your domains".' in words


def test_with_the_public_address_the_mails_link_to_the_domains_page(
    live_domain, knot, mailoutbox, settings
):
    settings.SERWEB_PUBLIC_URL = "https://serweb.example.net/"
    mailoutbox.clear()
    knot.remove(f"_sip._udp.{live_domain.did}", "SRV")

    domain_verify(domain=live_domain)

    [mail] = mailoutbox
    assert f"\nhttps://serweb.example.net/my/domains/{live_domain.did}/\n" in mail.body
    assert "Your domains" not in mail.body


def test_a_warning_once_before_the_switch_off_and_news_when_it_is_back(
    live_domain, knot, mailoutbox, dns_settings
):
    knot.remove(f"_sip._udp.{live_domain.did}", "SRV")
    domain_verify(domain=live_domain)
    mailoutbox.clear()
    # Two days on, another negative: the switch-off could come within the warning's reach.
    now = timezone.now() + timedelta(hours=50)
    domain_verify(domain=live_domain, now=now)
    [warning] = mailoutbox
    assert "may be switched off soon" in warning.subject
    assert "expected: _sip._udp." in warning.body
    assert DomainCheck.objects.get(domain=live_domain).warned_at == now

    domain_verify(domain=live_domain, now=now + timedelta(hours=7))
    assert len(mailoutbox) == 1  # warned once

    knot.srv(live_domain.did, PROXY_HOSTNAMES[0])
    assert domain_verify(domain=live_domain).to_state == DomainState.ACTIVE
    assert "is served again" in mailoutbox[-1].subject
    assert DomainCheck.objects.get(domain=live_domain).warned_at is None


def test_operators_domains_send_no_mail(knot, dns_settings, alice, mailoutbox):
    name = knot.unique("op")
    domain = domain_create(actor=alice, name=name, state=DomainState.PENDING)
    knot.srv(name, PROXY_HOSTNAMES[0])
    domain_verify(domain=domain)
    assert mailoutbox == []


def test_a_refusing_mail_server_loses_the_mail_not_the_change(
    knot, dns_settings, bob, settings, caplog
):
    settings.EMAIL_BACKEND = "tests.test_tenant_mail.RefusingBackend"
    name = knot.unique("refused")
    knot.srv(name, PROXY_HOSTNAMES[0])
    claim = domain_claim_start(actor=bob, tenant=bob.tenant, name=name)
    knot.add(f"_serweb-challenge.{name}", "TXT", f'"{claim.token}"')

    assert domain_claim_verify(actor=bob, claim=claim).to_state == DomainState.ACTIVE
    assert "could not mail bob@tenant.test" in caplog.text


def test_housekeeping_mails_at_the_first_negative_and_before_the_disable(
    live_domain, knot, mailoutbox
):
    mailoutbox.clear()
    knot.remove(f"_sip._udp.{live_domain.did}", "SRV")
    now = timezone.now()

    housekeeping_run(slots=1, now=now + timedelta(minutes=5))
    live_domain.refresh_from_db()
    assert live_domain.state == DomainState.SUSPECT
    assert [m.subject for m in mailoutbox] == [
        f"[serweb] {live_domain.did}: its DNS records are not what serweb needs"
    ]

    housekeeping_run(slots=1, now=now + timedelta(hours=50))
    housekeeping_run(slots=1, now=now + timedelta(hours=57))
    subjects = [m.subject for m in mailoutbox]
    assert subjects[1:] == [f"[serweb] {live_domain.did} may be switched off soon"]
    assert DomainCheck.objects.get(domain=live_domain).warned_at == now + timedelta(hours=50)


def test_a_failing_alias_is_named_in_a_mail_and_the_banner_while_the_domain_stays_served(
    live_domain, knot, mailoutbox, alice, bob, client
):
    did = live_domain.did
    alias = f"sip.{did}"
    knot.srv(alias, PROXY_HOSTNAMES[0])
    domain_name_add(actor=alice, domain=live_domain, name=alias)
    domain_verify(domain=live_domain)
    mailoutbox.clear()
    knot.remove(f"_sip._udp.{alias}", "SRV")
    now = timezone.now()

    housekeeping_run(slots=1, now=now)

    live_domain.refresh_from_db()
    assert live_domain.state == DomainState.ACTIVE
    [mail] = mailoutbox
    assert mail.to == ["bob@tenant.test"]
    assert mail.subject == f"[serweb] {alias}: its DNS records are not what serweb needs"
    words = " ".join(mail.body.split())
    assert f"the DNS of {alias}, a name of {did}, and did not find" in words
    assert f"expected: _sip._udp.{alias} SRV 10 10 5060 {PROXY_HOSTNAMES[0]}." in mail.body
    assert f"{alias} is still served, and {did} stays served under {did}." in words
    assert "serweb may stop serving that name from" in words

    client.force_login(bob)
    page = client.get("/my/domains/")
    [banner] = elements(page_tree(page), "section", class_="dns-alerts")
    said = " ".join(text_of(banner).split())
    assert f"{alias} , a name of {did} , is suspect" in said
    assert f"SRV _sip._udp.{alias} : expected 10 10 5060 {PROXY_HOSTNAMES[0]}." in said
    assert "stays served under its other names" in said
    assert f"serweb may stop serving {alias} from" in said

    # Disabled after the grace, the authoritative servers agreeing: mailed once more.
    for hours in (7, 14, 75):
        housekeeping_run(slots=1, now=now + timedelta(hours=hours))
    assert NameCheck.objects.get(name__name=alias).state == NameState.DISABLED
    assert [m.subject for m in mailoutbox][1:] == [f"[serweb] {alias} is no longer served"]
    words = " ".join(mailoutbox[-1].body.split())
    assert f"serweb no longer serves {alias}, a name of {did}" in words
    assert f"{did} stays served under {did}, with its subscribers" in words
    said = " ".join(
        text_of(
            next(elements(page_tree(client.get("/my/tokens/")), "section", class_="dns-alerts"))
        ).split()
    )
    assert f"{alias} , a name of {did} , is no longer served" in said

    # Its records back: served again, mailed so, and the banner is gone.
    knot.srv(alias, PROXY_HOSTNAMES[0])
    domain_verify(domain=live_domain)
    assert NameCheck.objects.get(name__name=alias).state == NameState.ACTIVE
    assert mailoutbox[-1].subject == f"[serweb] {alias} is served again"
    assert f"{alias}, a name of {did}, again" in " ".join(mailoutbox[-1].body.split())
    assert len(mailoutbox) == 3
    assert "dns-alerts" not in client.get("/my/domains/").text


def test_a_domain_back_with_its_names_is_one_mail(live_domain, knot, mailoutbox, alice):
    did = live_domain.did
    alias = f"sip.{did}"
    knot.srv(alias, PROXY_HOSTNAMES[0])
    domain_name_add(actor=alice, domain=live_domain, name=alias)
    domain_verify(domain=live_domain)
    # Both names gone: the domain and its alias are suspect together.
    knot.remove(f"_sip._udp.{alias}", "SRV")
    knot.remove(f"_sip._udp.{did}", "SRV")
    now = timezone.now()
    housekeeping_run(slots=1, now=now)
    live_domain.refresh_from_db()
    assert live_domain.state == DomainState.SUSPECT
    assert NameCheck.objects.get(name__name=alias).state == NameState.SUSPECT
    mailoutbox.clear()

    # Both back in one run: the domain's mail says it, the alias's says nothing more.
    knot.srv(alias, PROXY_HOSTNAMES[0])
    knot.srv(did, PROXY_HOSTNAMES[0])
    housekeeping_run(slots=1, now=now + timedelta(hours=7))
    assert NameCheck.objects.get(name__name=alias).state == NameState.ACTIVE
    assert [m.subject for m in mailoutbox] == [f"[serweb] {did} is served again"]

    # And by "check now": the same one mail.
    knot.remove(f"_sip._udp.{alias}", "SRV")
    knot.remove(f"_sip._udp.{did}", "SRV")
    housekeeping_run(slots=1, now=now + timedelta(hours=14))
    mailoutbox.clear()
    knot.srv(alias, PROXY_HOSTNAMES[0])
    knot.srv(did, PROXY_HOSTNAMES[0])
    domain_verify(domain=live_domain)
    assert [m.subject for m in mailoutbox] == [f"[serweb] {did} is served again"]
