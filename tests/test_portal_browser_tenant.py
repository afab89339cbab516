"""The whole tenant flow in a real browser, against the real DNS server (Knot) and a real
Kamailio: a tenant signs up, follows the link from the mail, claims a domain, publishes
the records exactly as the page shows them (copied with its copy buttons, sent as dynamic
updates), checks them, sees the domain live and served by the proxy, adds a subscriber
who then registers with SIPp (401, then 200); its SRV records go, housekeeping runs with
the clock moved on, and every page shows the banner naming the failing record; fixed and
checked again, the domain is back. Every page checked with axe and photographed."""

import re
from datetime import timedelta

import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from domains.dns.housekeeping import housekeeping_run
from domains.models import Domain, DomainState, Tenant
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES
from tests.kamailio_harness import Sipp, running_kamailio, serweb_proxy
from tests.test_portal_signup import confirmation_link

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

pytestmark = pytest.mark.postgres

PASSWORD = "dana-long-pass-1"
SUBSCRIBER_PASSWORD = "frank-secret-7"


@pytest.fixture(scope="module")
def kamailio(django_db_setup, django_db_blocker):
    with running_kamailio(django_db_blocker, "tenantflow") as instance:
        yield instance
    # Its login was dropped through this thread's connection: closed now, or the test
    # database could not be dropped at the end of the run.
    with django_db_blocker.unblock():
        connection.close()


@pytest.fixture
def proxy(kamailio, transactional_db):
    """The running Kamailio as serweb's proxy, reloaded to this test's (empty) data."""
    return serweb_proxy(kamailio)


def clipboard(visit) -> str:
    return visit.page.evaluate("navigator.clipboard.readText()")


def publish(knot, zone_lines: str) -> list[tuple[str, str, str]]:
    """The zone-file lines as the page gave them, each one a record added by an RFC 2136
    update to the test server; comments (the optional records) stay out."""
    records = []
    for line in zone_lines.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        owner, ttl, rdclass, rdtype, rdata = line.split(None, 4)
        assert rdclass == "IN" and owner.endswith(".")
        # Parsed as a zone file would be, so a line the page got wrong fails here.
        rrset = dns.rrset.from_text(owner, int(ttl), dns.rdataclass.IN, rdtype, rdata)
        records.append((owner, dns.rdatatype.to_text(rrset.rdtype), rrset[0].to_text()))
    knot.update(add=records)
    return records


def test_a_tenant_goes_from_sign_up_to_a_live_domain_and_back_from_suspect(
    visit, knot, dns_settings, proxy, kamailio, mailoutbox, tmp_path, live_server
):
    dns_settings.SERWEB_CHECK_COOLDOWN_SECONDS = 3
    name = knot.unique("flow")
    page = visit.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # Sign up; nothing but the request to confirm until the mailed link is followed.
    visit.go("/accounts/signup/")
    visit.seen("sign-up")
    page.get_by_label("Organisation").fill("Dana's Phones")
    page.get_by_label("Email").fill("dana@phones.test")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Confirm your e-mail address")).to_be_visible()
    visit.seen("confirm-your-address")

    [welcome] = mailoutbox
    visit.go(confirmation_link(welcome))
    visit.seen("confirmation-link")
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/my/domains/$"))
    expect(page.get_by_role("heading", name="Your domains")).to_be_visible()
    visit.seen("your-domains-empty")

    # Claim a domain: the page says exactly what to publish.
    page.get_by_role("button", name="Claim a domain").click()
    visit.seen("claim-a-domain")
    page.get_by_label("Domain name").fill(name.upper())
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("heading", name=f"Claim of {name}")).to_be_visible()
    expect(page.locator("main")).to_contain_text("expires in 23")
    visit.seen("claim-records")

    # Checked before anything is published: each record missing, then a cooldown.
    panel = page.locator("#records-panel")
    panel.get_by_role("button", name="Check now").click()
    expect(panel).to_contain_text("the token is not in TXT")
    expect(panel.locator(".badge-seen-missing").first).to_be_visible()
    expect(panel).to_contain_text("You can check again in")
    expect(panel.get_by_role("button", name="Check now")).to_be_disabled()
    # The check found the zone: every table's hosts are relative to it now.
    label = name.removesuffix(".test")
    expect(panel.locator("tbody th code").first).to_have_text(f"_sip._udp.{label}")
    optional = page.locator("#attributes-dns tbody th code")
    expect(optional.first).to_have_text(f"_serweb-config.{label}")
    visit.seen("claim-checked-missing")

    # The records as copied from the page: the zone-file lines, and the table's TXT value
    # (without quotes) is the token those lines carry.
    page.get_by_role("button", name="Copy the lines").click()
    copied = clipboard(visit)
    published = publish(knot, copied)
    assert len(published) == 7  # an SRV per transport and proxy host name, and the TXT
    txt = [rdata for owner, rdtype, rdata in published if rdtype == "TXT"]
    [token] = [value.strip('"') for value in txt]
    panel.get_by_role("button", name=re.compile(r"^Copy value of _serweb-challenge")).click()
    assert clipboard(visit) == token
    target = f"Copy target of _sip._udp.* to {re.escape(PROXY_HOSTNAMES[0])}$"
    panel.get_by_role("button", name=re.compile(target)).click()
    assert clipboard(visit) == PROXY_HOSTNAMES[0]

    # The cooldown ends by itself (htmx asks again); checked now, the domain is live.
    expect(panel.get_by_role("button", name="Check now")).to_be_enabled(timeout=10_000)
    panel.get_by_role("button", name="Check now").click()
    expect(page).to_have_url(re.compile(f"/my/domains/{re.escape(name)}/$"))
    expect(page.locator("hgroup .badge")).to_have_text("active")
    serving = page.locator("#serving")
    expect(serving).to_contain_text("Proxy kam: serves it", timeout=15_000)
    expect(page.locator("#records-panel .badge-seen-found")).to_have_count(7)
    visit.seen("domain-live")
    assert f"[serweb] {name} is live" in [mail.subject for mail in mailoutbox]
    assert Domain.objects.get(did=name).tenant == Tenant.objects.get(name="Dana's Phones")

    # A subscriber, then a REGISTER through the real proxy: challenged, then accepted.
    page.get_by_role("button", name="Add a subscriber").click()
    expect(page.get_by_label("Domain")).to_have_value(name)
    visit.seen("subscriber-add")
    page.get_by_label("User name").fill("frank")
    page.get_by_label("Password", exact=True).fill(SUBSCRIBER_PASSWORD)
    page.get_by_role("button", name="Add subscriber").click()
    expect(page.get_by_role("heading", name=f"frank@{name}", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("live at once")
    visit.seen("subscriber-added")

    sipp = Sipp(tmp_path / "sipp", kamailio.sip_address)
    (tmp_path / "sipp").mkdir()
    registered = sipp.run(
        "register.xml",
        keys={"user": "frank", "domain": name},
        auth=("frank", SUBSCRIBER_PASSWORD),
    )
    assert registered.ok, registered.explain()
    assert registered.statuses() == [401, 200]

    # The SRV records go; housekeeping, an hour on, finds them gone.
    knot.update(delete=[(f"{p}.{name}", "SRV") for p in ("_sip._udp", "_sip._tcp", "_sips._tcp")])
    run = housekeeping_run(slots=1, now=timezone.now() + timedelta(hours=1))
    assert run.status == "completed", run.message
    assert Domain.objects.get(did=name).state == DomainState.SUSPECT
    suspect_mail = mailoutbox[-1]
    assert "not what serweb needs" in suspect_mail.subject
    assert f"expected: _sip._udp.{name} SRV 10 10 5060 {PROXY_HOSTNAMES[0]}." in suspect_mail.body

    page.get_by_role("link", name="Your domains").click()
    banner = page.locator(".dns-alerts")
    expect(banner).to_contain_text(f"{name} is suspect")
    expect(banner).to_contain_text(
        f"_sip._udp.{name}: expected 10 10 5060 {PROXY_HOSTNAMES[0]}., found nothing"
    )
    expect(banner).to_contain_text("serweb may switch it off from")
    visit.seen("banner-suspect")

    # Fixed in DNS and checked now: served again at once, the banner gone.
    publish(knot, copied)
    banner.get_by_role("link", name="Check now").first.click()
    expect(page.locator("#records-panel")).to_be_visible()
    visit.seen("domain-suspect")
    check = page.locator("#records-panel").get_by_role("button", name="Check now")
    expect(check).to_be_enabled(timeout=10_000)
    check.click()
    expect(page.locator("#records-panel")).to_contain_text("is active")
    page.reload()
    expect(page.locator(".dns-alerts")).to_have_count(0)
    expect(page.locator("hgroup .badge")).to_have_text("active")
    visit.seen("domain-back")
    assert "is served again" in mailoutbox[-1].subject
