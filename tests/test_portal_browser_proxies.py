"""The proxies and tenants pages in a real browser (Debian's chromium, driven by Playwright)
against a live server: an operator adds a proxy, watches its status and reloads a real
Kamailio; creates a tenant and moves a domain to it. Every page is checked with axe and
photographed (tests/browser.py)."""

import re

import pytest
from playwright.sync_api import expect

from api.jobs import job_run
from api.models import Job
from domains.models import Domain, Tenant
from domains.services import domain_create
from proxies.models import Proxy
from tests.browser import NARROW, WIDE, start_signed_in
from tests.kamailio_harness import running_kamailio


@pytest.fixture(scope="session")
def kamailio(django_db_setup, django_db_blocker):
    with running_kamailio(django_db_blocker, "browser") as instance:
        yield instance


@pytest.mark.postgres
def test_an_operator_adds_a_proxy_sees_its_status_and_reloads_it(visit, alice, kamailio):
    domain_create(actor=alice, name="voice.example.com", aliases=["sip.voice.example.com"])
    page = visit.page
    page.clock.install()  # the status refreshes on a timer: run it on demand
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Proxies").click()
    expect(page.get_by_role("heading", name="Proxies", level=1)).to_be_visible()
    expect(page.get_by_text("No proxy is registered")).to_be_visible()
    visit.seen("proxies-empty")

    page.get_by_role("button", name="Add a proxy").click()
    page.get_by_label("Name").fill("kam")
    page.get_by_label("Transport").select_option("fifo")
    page.get_by_label("Address", exact=True).fill("kamailio_rpc.fifo")
    page.get_by_label("SIP address").fill(kamailio.sip_address)
    page.get_by_role("button", name="Add the proxy").click()
    address = page.get_by_label("Address", exact=True)
    expect(address).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_address_error")).to_contain_text("a FIFO path must be absolute")
    visit.seen("proxy-add-error")
    assert not Proxy.objects.exists()

    address.fill(kamailio.fifo)
    page.get_by_role("button", name="Add the proxy").click()
    expect(page).to_have_url(re.compile(r"/proxies/$"))
    status = page.locator("#proxy-status")
    row = status.get_by_role("row", name=re.compile("kam"))
    expect(row).to_contain_text("pending")
    expect(row).to_contain_text("voice.example.com")
    visit.seen("proxies-pending")

    page.get_by_role("button", name="Reload kam now").click()
    expect(page).to_have_url(re.compile(r"/proxies/\?job=\d+$"))
    expect(page.locator("#reload-job")).to_contain_text("Done: kam reloaded, generation")
    expect(row).to_contain_text("live")
    assert kamailio.serves("sip.voice.example.com") == "voice.example.com"
    visit.seen("proxies-reloaded")

    # The status follows the proxy while the page is open (htmx, every 5 s).
    Proxy.objects.filter(name="kam").update(
        last_error="shared memory: 1.0 MiB free, the reload needs 3.0 MiB",
        last_error_at=Proxy.objects.get().created_at.replace(year=2100),
        applied_generation=0,
    )
    page.clock.run_for("00:06")
    expect(row).to_contain_text("no room")
    expect(row).to_contain_text("the reload needs 3.0 MiB")

    # A reload a worker has not run yet: the page polls it until it has.
    job = Job.objects.create(
        user=alice,
        kind=Job.Kind.RELOAD_PROXY,
        target_id=Proxy.objects.get().pk,
        target="kam",
    )
    visit.go(f"/proxies/?job={job.pk}")
    expect(page.locator("#reload-job")).to_contain_text("Waiting for a worker")
    visit.seen("proxies-reload-waiting")
    job_run(job.pk)
    page.clock.run_for("00:02")
    expect(page.locator("#reload-job")).to_contain_text("Done: kam reloaded")
    expect(row).to_contain_text("live")

    page.set_viewport_size(NARROW)
    visit.seen("proxies-narrow")
    page.set_viewport_size(WIDE)

    page.get_by_role("link", name="Edit kam").click()
    expect(page.get_by_label("Reload this proxy")).to_be_checked()
    visit.seen("proxy-edit")
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Delete kam").click()
    expect(page.get_by_role("heading", name="Delete proxy kam?")).to_be_visible()
    visit.seen("proxy-delete")
    page.get_by_role("button", name="Delete the proxy").click()
    expect(page.get_by_role("status").first).to_contain_text("Deleted proxy kam")
    visit.seen("proxies-deleted")
    assert not Proxy.objects.exists()


def test_an_operator_creates_a_tenant_and_moves_a_domain_to_it(visit, alice, bob):
    bob_corp = Tenant.objects.get(owner=bob)
    domain_create(
        actor=alice, name="bücher.example", aliases=["sip.bücher.example"], tenant=bob_corp
    )
    domain_create(actor=alice, name="bob.example.com", tenant=bob_corp)
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tenants").click()
    expect(page.get_by_role("heading", name="Tenants", level=1)).to_be_visible()
    visit.seen("tenants")

    page.get_by_role("button", name="Add a tenant").click()
    page.get_by_label("Name").fill("Dora's Phones")
    page.get_by_label("Owner's login").fill("bob")
    page.get_by_label("Owner's e-mail").fill("dora@tenant.test")
    page.get_by_label("Owner's password").fill("a long tenant secret")
    page.get_by_role("button", name="Add the tenant").click()
    expect(page.locator("#id_owner_error")).to_have_text("the account 'bob' is taken or empty")
    visit.seen("tenant-add-error")

    page.get_by_label("Owner's login").fill("dora")
    page.get_by_label("Owner's password").fill("a long tenant secret")
    page.get_by_role("button", name="Add the tenant").click()
    expect(page.get_by_role("heading", name="Dora's Phones", level=1)).to_be_visible()
    expect(page.get_by_text("Created tenant Dora's Phones")).to_be_visible()
    expect(page.get_by_text("No domain yet.")).to_be_visible()
    visit.seen("tenant-new")

    page.get_by_role("button", name="Give a domain to Dora's Phones").click()
    expect(page.get_by_label("New tenant")).to_have_value("Dora's Phones")
    page.get_by_label("Domain").fill("nothing.example.com")
    page.get_by_role("button", name="Move the domain").click()
    expect(page.locator("#id_domain_error")).to_contain_text("no domain named")
    visit.seen("tenant-transfer-error")
    page.get_by_label("Domain").fill("sip.bücher.example")
    page.get_by_role("button", name="Move the domain").click()

    expect(page.get_by_role("heading", name="Dora's Phones", level=1)).to_be_visible()
    expect(page.get_by_text("Moved bücher.example from tenant bob-corp")).to_be_visible()
    domains = page.get_by_role("region", name="Domains")
    expect(domains.get_by_title("xn--bcher-kva.example").first).to_have_text("bücher.example")
    visit.seen("tenant-with-domain")
    dora = Tenant.objects.get(name="Dora's Phones")
    assert Domain.objects.get(did="xn--bcher-kva.example").tenant == dora

    visit.go("/tenants/?q=bob")
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("row").nth(1)).to_contain_text("bob-corp")
    visit.seen("tenants-search")
    page.get_by_role("link", name="bob-corp").click()
    expect(page.get_by_role("region", name="Domains")).to_contain_text("bob.example.com")
    visit.seen("tenant-bob")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("Also switch off its 1 domain on the proxies")).to_be_visible()
    visit.seen("tenant-disable")
    page.get_by_role("button", name="Disable the tenant").click()
    expect(page.get_by_text("Disabled tenant bob-corp")).to_be_visible()
    visit.seen("tenant-disabled")
    assert not Tenant.objects.get(pk=bob_corp.pk).owner.is_active
