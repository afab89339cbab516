"""The portal in a real browser (Debian's chromium, driven by Playwright) against a live
server: signing in with and without a second factor, the dashboard filled with data, a
tenant's own space, throttled guesses, signing out, changing and resetting a password.

Every page a test visits is checked with axe (no serious or critical violation) and saved
as a full-page screenshot in SERWEB_SCREENSHOTS (default: var/screenshots/ of the checkout).
"""

import re
import time

from playwright.sync_api import expect

from domains.models import Tenant
from domains.services import domain_create
from proxies.models import Proxy
from tests.browser import (
    NARROW,
    WIDE,
    fill_new_password,
    from_account_menu,
    sign_in,
    sign_out,
    start_signed_in,
)
from tests.portal_helpers import add_world, totp_code

# --- operators -----------------------------------------------------------------------------


def test_an_operator_signs_in_and_sees_the_dashboard_filled_with_data(visit, alice, bob, tmp_path):
    add_world(alice, Tenant.objects.get(owner=bob), tmp_path, 3)
    page = visit.page
    page.clock.install()  # the proxies' panel refreshes on a timer: run it on demand

    visit.go("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    visit.seen("sign-in")
    sign_in(visit, "alice", "alice-pass")

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    stats = page.locator(".stat-value")
    expect(stats.nth(0)).to_have_text("12")  # domains
    expect(stats.nth(1)).to_have_text("3")  # claims waiting
    expect(stats.nth(2)).to_have_text("3")  # suspect
    suspects = page.get_by_role("region", name="Suspect domains")
    expect(suspects.get_by_role("row")).to_have_count(4)
    expect(suspects).to_contain_text("1 of 3")
    expect(suspects).to_contain_text("in 2")
    proxies = page.locator("#proxy-status")
    expect(proxies.get_by_role("row")).to_have_count(4)
    expect(proxies).to_contain_text("edge-0.fifo does not exist: Kamailio is not running")
    expect(page.get_by_role("region", name="Latest changes")).to_contain_text("domain.create")
    visit.seen("dashboard")

    # The proxies' panel picks up a change without a reload of the page (htmx).
    Proxy.objects.filter(name="edge-0").update(last_error="shared memory: 1 MB free")
    page.clock.run_for("00:16")
    expect(proxies).to_contain_text("shared memory: 1 MB free")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()

    page.set_viewport_size(NARROW)
    visit.seen("dashboard-narrow")
    page.set_viewport_size(WIDE)

    visit.go("/nothing-here/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    visit.seen("not-found")


def test_an_operator_turns_on_totp_and_then_signs_in_with_a_code(visit, alice):
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")
    from_account_menu(visit, "link", "Two-factor authentication")
    visit.seen("two-factor")
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    visit.seen("password-again")
    page.get_by_label("Password", exact=True).fill("alice-pass")
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    visit.seen("activate-totp")
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Recovery Codes").first).to_be_visible()
    visit.seen("totp-active")

    sign_out(visit)
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    visit.seen("signed-out")
    sign_in(visit, "alice", "alice-pass")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    visit.seen("code")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    visit.seen("wrong-code")
    # The code of the next 30-second step: the one used to activate is spent.
    page.get_by_label("Code").fill(totp_code(secret, at=time.time() + 30))
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    visit.seen("dashboard-after-code")


def test_an_operator_changes_the_password(visit, alice):
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")
    from_account_menu(visit, "link", "Change password")
    visit.seen("change-password")

    page.get_by_label("Current Password").fill("not-it")
    fill_new_password(visit, "a-new-long-secret-5")
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Please type your current password.")).to_be_visible()
    visit.seen("change-password-wrong")

    page.get_by_label("Current Password").fill("alice-pass")
    fill_new_password(visit, "a-new-long-secret-5")
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Password successfully changed.")).to_be_visible()
    visit.seen("password-changed")

    sign_out(visit)
    visit.seen("signed-out")
    sign_in(visit, "alice", "a-new-long-secret-5")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    visit.seen("dashboard-new-password")


# --- tenants -------------------------------------------------------------------------------


def test_a_tenant_sees_only_its_space_and_no_operator_page(visit, alice, bob, charlie):
    domain_create(
        actor=alice,
        name="bob.example.com",
        aliases=["sip.bob.example.com"],
        tenant=Tenant.objects.get(owner=bob),
    )
    domain_create(actor=alice, name="charlie.example.com", tenant=Tenant.objects.get(owner=charlie))
    page = visit.page

    start_signed_in(visit, "bob", "bob-pass", "/my/domains/")
    expect(page.get_by_role("heading", name="Your domains")).to_be_visible()
    table = page.get_by_role("region", name="Your domains")
    expect(table).to_contain_text("sip.bob.example.com")
    expect(page.locator("main")).not_to_contain_text("charlie.example.com")
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)

    page.set_viewport_size(NARROW)
    visit.seen("your-domains-narrow")
    page.set_viewport_size(WIDE)

    answer = visit.go("/dashboard/")
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    visit.seen("dashboard-not-found")
    assert visit.go("/admin/").status == 404
    visit.seen("admin-not-found")


def test_wrong_passwords_are_throttled(visit, bob, settings):
    settings.SERWEB_AUTH_FAILURE_LIMIT = 3
    page = visit.page
    visit.go("/accounts/login/")
    visit.seen("sign-in")
    for attempt in range(3):
        sign_in(visit, "bob", f"wrong-{attempt}")
        expect(page.get_by_role("alert")).to_have_text(
            "The username and/or password you specified are not correct."
        )
    visit.seen("wrong-password")

    sign_in(visit, "bob", "bob-pass")
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many failed attempts from your address. Try again in"
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    visit.seen("throttled")


def test_a_forgotten_password_is_reset_by_mail(visit, bob, mailoutbox):
    page = visit.page
    visit.go("/accounts/signup/")
    expect(page.get_by_role("heading", name="Sign up", level=1)).to_be_visible()
    visit.seen("sign-up")
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    visit.seen("sign-in")

    page.get_by_role("link", name="Forgot your password?").click()
    visit.seen("reset")
    page.get_by_label("Email").fill("bob@tenant.test")
    page.get_by_role("button", name="Reset My Password").click()
    expect(page).to_have_url(re.compile(r"/accounts/password/reset/done/$"))
    visit.seen("reset-sent")

    [mail] = mailoutbox
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.body)[0]
    page.goto(link)
    visit.seen("new-password")
    fill_new_password(visit, "reset-long-secret-6")
    page.get_by_role("button", name="Change Password").click()
    expect(page).to_have_url(re.compile(r"/accounts/password/reset/key/done/$"))
    visit.seen("password-reset")

    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    visit.seen("sign-in-again")
    sign_in(visit, "bob", "reset-long-secret-6")
    expect(page).to_have_url(re.compile(r"/my/domains/$"))
    visit.seen("signed-in")


def test_the_api_documentation_renders_under_the_content_security_policy(visit, db):
    page = visit.page
    visit.go("/api/v1/docs/")
    expect(page.get_by_role("heading", name=re.compile("serweb API"))).to_be_visible()
    expect(page.get_by_text("/api/v1/domains/", exact=True).first).to_be_visible()
    visit.seen("api-docs", ours=False)
