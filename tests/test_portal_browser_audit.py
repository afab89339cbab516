"""The audit log in a real browser: changes made through the services and the API appear
with their field diff, secrets only as "changed"; the entries of one API request open
together; the filters, a bad filter next to its field, and the pager swapping the list in
place (htmx). Every page is checked with axe and photographed (tests/browser.py)."""

import re

from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.template.loader import render_to_string
from django.test import RequestFactory
from playwright.sync_api import expect

from audit.models import AuditEntry
from domains.models import Tenant
from domains.services import domain_attribute_set, domain_create, domain_name_add
from subscribers.services import subscriber_create, subscriber_set_password, valid_from_add
from tests.api_helpers import client_for
from tests.browser import NARROW, WIDE, start_signed_in


def make_changes(alice, bob):
    """A domain with an alias and an attribute, a subscriber whose password changes, and an
    API request that changes two things at once."""
    domain = domain_create(actor=alice, name="bücher.example", aliases=["sip.bücher.example"])
    domain_name_add(actor=alice, domain=domain, name="192.0.2.44")
    domain_attribute_set(actor=alice, domain=domain, name="max_contacts", value="4")
    carol = subscriber_create(actor=alice, domain=domain, username="carol", password="carol-pw-1")
    subscriber_set_password(actor=alice, subscriber=carol, password="carol-pw-2")
    valid_from_add(actor=alice, subscriber=carol, from_user="+4930123")
    domain_create(actor=alice, name="shop.example", tenant=Tenant.objects.get(owner=bob))
    answer = client_for(alice).patch(
        "/api/v1/domains/shop.example/", {"enabled": False, "state": "suspect"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    carol.refresh_from_db()
    return carol, answer["X-Request-Id"]


def test_an_operator_finds_each_change_with_its_diff_and_opens_a_request(visit, alice, bob):
    carol, request_id = make_changes(alice, bob)
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")

    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/audit/$"))
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    entries = page.get_by_role("region", name="Audit entries")
    attribute = entries.get_by_role("row").filter(has_text="domain.attr_set")
    expect(attribute).to_contain_text("attributes.max_contacts[operator]")
    expect(attribute.locator("ins")).to_have_text("4")
    # The name in Unicode, its A-label on hover.
    expect(attribute.locator('span.sipname[title="xn--bcher-kva.example"]').first).to_have_text(
        "bücher.example"
    )
    alias = entries.get_by_role("row").filter(has_text="domain.alias_add")
    expect(alias.locator("ins")).to_have_text("192.0.2.44")
    password = entries.get_by_role("row").filter(has_text="subscriber.password")
    expect(password.locator(".diff-secret dd")).to_have_text("changed")
    valid_from = entries.get_by_role("row").filter(has_text="validfrom.add")
    expect(valid_from.locator("ins")).to_have_text("+4930123")
    content = page.content()
    for secret in (carol.ha1, carol.ha1b, "carol-pw-1", "carol-pw-2"):
        assert secret not in content
    run = entries.get_by_role("rowgroup").filter(has_text="API request by alice: 2 changes")
    disabled = run.get_by_role("row").filter(has_text="domain.disable")
    expect(disabled.locator("del")).to_have_text("yes")
    expect(disabled.locator("ins")).to_have_text("no")
    visit.seen("audit-log")

    # The request's two entries open together.
    run.get_by_role("link", name=re.compile("Open the API request")).click()
    expect(page).to_have_url(re.compile(rf"/audit/\?group={request_id}$"))
    expect(page.get_by_role("heading", name="One API request")).to_be_visible()
    expect(page.get_by_role("region", name="Audit entries").locator("tbody tr")).to_have_count(2)
    expect(page.locator(".run-facts")).to_contain_text(request_id)
    visit.seen("audit-run")

    page.set_viewport_size(NARROW)
    visit.seen("audit-run-narrow")
    page.set_viewport_size(WIDE)


def test_the_filters_and_the_pager(visit, alice, bob):
    make_changes(alice, bob)
    AuditEntry.objects.bulk_create(
        AuditEntry(actor_name="ops", channel="cli", action="domain.create", object_type="domain",
                   object_repr=f"old{i}.example", did=f"old{i}.example",
                   after={"did": f"old{i}.example", "enabled": True})
        for i in range(60)
    )  # fmt: skip
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")
    visit.go("/audit/")
    visit.seen("audit-log")

    # A Unicode name finds the domain's entries, its subscriber's too.
    page.get_by_label("Domain (did)").fill("BÜCHER.example")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?.*did=B%C3%9CCHER\.example"))
    rows = page.get_by_role("region", name="Audit entries").locator("tbody tr")
    expect(rows).to_have_count(6)
    expect(page.get_by_label("Domain (did)")).to_have_value("BÜCHER.example")
    visit.seen("audit-filtered")

    # A bad value is named next to its field, and nothing is listed.
    page.get_by_label("Run").fill("not-a-run")
    page.get_by_role("button", name="Filter").click()
    error = page.locator("#id_group_error")
    expect(error).to_have_text("Enter a valid UUID.")
    expect(page.get_by_label("Run")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Correct the filters to see entries.")).to_be_visible()
    visit.seen("audit-bad-filter")

    page.get_by_role("link", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/audit/$"))
    visit.seen("audit-cleared")

    # Older entries replace the list in place; the address follows, the list has the focus.
    page.get_by_label("Who").fill("ops")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(50)
    visit.seen("audit-by-ops")
    pages = page.get_by_role("navigation", name="Audit log pages")
    pages.get_by_role("link", name="Older").click()
    expect(page).to_have_url(re.compile(r"actor_name=ops&after="))
    expect(rows).to_have_count(10)
    expect(page.locator("#audit-list")).to_be_focused()
    expect(page.get_by_label("Who")).to_have_value("ops")
    visit.seen("audit-older")
    pages.get_by_role("link", name="Newer").click()
    expect(rows).to_have_count(50)
    expect(page).to_have_url(re.compile(r"actor_name=ops&before="))
    visit.seen("audit-newer")


def test_the_shared_confirm_page_and_messages_of_each_level(visit, alice):
    """The confirm pattern and the flash messages as other pages render them (the address
    is served by the test from the rendered template)."""
    request = RequestFactory().get("/domains/example.com/delete/")
    request.user = alice
    request.session = {}
    request._messages = FallbackStorage(request)
    messages.success(request, "example.com is enabled; proxy edge-1 does not serve it yet.")
    messages.info(request, "The import runs as a job.")
    messages.warning(request, "Proxy edge-1 has no room for a reload.")
    messages.error(request, "Nothing was deleted: the domain changed meanwhile.")
    html = render_to_string(
        "portal/confirm.html",
        {
            "title": "Delete example.com?",
            "message": "Its names and attributes go with it, and so do:",
            "consequences": ["3 subscribers", "1 user alias"],
            "confirm_label": "Delete example.com",
            "danger": True,
            "cancel_url": "/dashboard/",
        },
        request=request,
    )
    page = visit.page
    page.route(
        "**/patterns/confirm/",
        lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
    )

    visit.go("/patterns/confirm/")
    expect(page.get_by_role("heading", name="Delete example.com?", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Delete example.com")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel")).to_have_attribute("href", "/dashboard/")
    expect(page.get_by_role("alert")).to_have_count(2)  # the warning and the error
    expect(page.get_by_role("status")).to_have_count(2)
    expect(page.locator(".message-warning")).to_contain_text("Warning:")
    visit.seen("confirm-and-messages")
    page.set_viewport_size(NARROW)
    visit.seen("confirm-and-messages-narrow")
