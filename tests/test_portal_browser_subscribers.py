"""The subscriber pages in a real browser: an operator finds subscribers across domains,
adds one with a valid From identity and a user alias, resets its password, disables and
enables it, and looks at its registrations; every page checked with axe and photographed."""

import re

from playwright.sync_api import expect

from domains.services import domain_create
from proxies.models import ProxyTransport
from proxies.services import proxy_create
from subscribers.models import Subscriber
from subscribers.services import subscriber_create, user_alias_add, valid_from_add
from tests.browser import NARROW, WIDE, start_signed_in


def fill_world(alice, tmp_path) -> None:
    example = domain_create(actor=alice, name="example.com", aliases=["sip.example.com"])
    office = domain_create(actor=alice, name="office.example.org")
    idn = domain_create(actor=alice, name="bücher.example")
    for domain, users in [
        (example, ["alice", "bert", "carla"]),
        (office, ["alan", "reception"]),
        (idn, ["ute"]),
    ]:
        for user in users:
            subscriber = subscriber_create(
                actor=alice,
                domain=domain,
                username=user,
                password=f"{user}-secret-1",
                email=f"{user}@mail.example.net",
                enabled=user != "carla",
            )
            valid_from_add(actor=alice, subscriber=subscriber, from_user=f"+49{len(user)}00{user}")
    user_alias_add(
        actor=alice,
        domain=office,
        username="100",
        subscriber=Subscriber.objects.get(username="reception"),
    )
    # A proxy that is down: the registrations panel says it did not answer.
    proxy_create(
        actor=alice,
        name="edge-1",
        transport=ProxyTransport.FIFO,
        address=str(tmp_path / "edge-1.fifo"),
    )


def test_an_operator_finds_adds_and_changes_a_subscriber(visit, alice, tmp_path):
    fill_world(alice, tmp_path)
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Subscribers").click()
    expect(page).to_have_url(re.compile(r"/subscribers/$"))
    results = page.get_by_role("region", name="All subscribers")
    expect(results.get_by_role("row")).to_have_count(7)
    expect(results).to_contain_text("ute@bücher.example")
    visit.seen("subscribers")

    page.get_by_label("Search", exact=True).fill("al")
    page.get_by_role("button", name="Search").click()
    found = page.get_by_role("region", name="Found")
    expect(found.get_by_role("row")).to_have_count(3)  # the header, alice, alan
    visit.seen("subscribers-search")

    page.get_by_label("Search", exact=True).fill("alice@nowhere.example")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#id_q_error")).to_have_text("no domain is named nowhere.example")
    visit.seen("subscribers-bad-search")

    page.get_by_role("button", name="Add a subscriber").click()
    expect(page.get_by_role("heading", name="Add a subscriber")).to_be_visible()
    visit.seen("subscriber-add")

    page.get_by_label("Domain").fill("sip.example.com")
    page.get_by_label("User name").fill("frank")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Add subscriber").click()
    expect(page.locator("#id_password_error")).to_contain_text("at least 8 characters")
    assert not Subscriber.objects.filter(username="frank").exists()
    visit.seen("subscriber-add-bad-password")

    page.get_by_label("Password", exact=True).fill("frank-secret-1")
    page.get_by_label("E-mail").fill("frank@mail.example.net")
    page.get_by_role("button", name="Add subscriber").click()
    expect(page.get_by_role("heading", name="frank@example.com", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text(
        "Subscriber frank@example.com added; live once proxy edge-1 serves example.com"
    )
    panel = page.locator("#registrations")
    expect(panel).to_contain_text("No proxy answered")
    expect(panel).to_contain_text("Kamailio is not running")
    visit.seen("subscriber-added")

    page.get_by_label("From user name").fill("+4930999")
    page.get_by_role("button", name="Add From user").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "frank@example.com may now present From user +4930999"
    )
    expect(page.get_by_role("region", name="Valid From identities")).to_contain_text("+4930999")
    visit.seen("subscriber-valid-from")

    page.get_by_label("Alias user name").fill("frank")
    page.get_by_role("button", name="Add alias").click()
    expect(page.locator("#id_username_error")).to_contain_text("is a subscriber")
    visit.seen("subscriber-alias-refused")
    page.get_by_label("Alias user name").fill("4930999")
    page.get_by_label("Alias domain").fill("office.example.org")
    page.get_by_role("button", name="Add alias").click()
    expect(page.get_by_role("region", name="User aliases")).to_contain_text(
        "4930999@office.example.org"
    )
    visit.seen("subscriber-alias")

    frank = Subscriber.objects.get(username="frank")
    old_hash = frank.ha1
    page.get_by_role("button", name="Set password").click()
    shown = page.locator("#new-password")
    expect(shown).to_be_visible()
    password = shown.inner_text()
    frank.refresh_from_db()
    assert frank.ha1 != old_hash and frank.password == ""
    assert frank.ha1 not in page.content()
    visit.seen("subscriber-new-password")

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status").first).to_contain_text("frank@example.com disabled")
    expect(page.locator("#new-password")).to_have_count(0)
    assert password not in page.content()
    visit.seen("subscriber-disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status").first).to_contain_text("frank@example.com enabled")
    frank.refresh_from_db()
    assert frank.enabled
    visit.seen("subscriber-enabled")

    page.set_viewport_size(NARROW)
    visit.seen("subscriber-narrow")
    page.set_viewport_size(WIDE)

    page.get_by_role("button", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete frank@example.com?")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("4930999@office.example.org")
    visit.seen("subscriber-delete")
    page.get_by_role("link", name="Cancel").click()
    visit.seen("subscriber-kept")

    page.get_by_role("link", name="example.com", exact=True).click()
    expect(page).to_have_url(re.compile(r"/subscribers/\?domain=example\.com$"))
    expect(page.get_by_role("region", name="Found")).to_contain_text("frank@example.com")
    visit.seen("subscribers-of-a-domain")
