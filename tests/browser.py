"""The browser harness of the portal's tests: Debian's chromium driven by Playwright
against a live server. Every page a test visits is checked with axe (no serious or critical
violation) and saved as a full-page screenshot in SERWEB_SCREENSHOTS (default:
var/screenshots/ of the checkout); a page visited but not checked fails the test.

Test modules use the ``visit`` fixture (re-exported by tests/conftest.py) and the helpers
here (``start_signed_in``, ``sign_in``, ...)."""

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("SERWEB_SCREENSHOTS") or ROOT / "var" / "screenshots")
IMPACTS_REFUSED = {"serious", "critical"}
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup --system installs chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # One run's pictures: the previous run's go, once, before any module takes its own.
    for old in SCREENSHOTS.glob("portal-*.png"):
        old.unlink()
    # Playwright's synchronous API runs an event loop in this thread; the test's own ORM
    # calls (setting up data) are still plain synchronous code.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM)
            yield launched
            launched.close()


class Visit:
    """One browser tab; ``seen`` checks and photographs the page it shows, and at the end
    every page it navigated to must have been seen."""

    axe = Axe()

    def __init__(self, page: Page, base_url: str, name: str):
        self.page = page
        self.base_url = base_url
        self.name = name
        self.count = 0
        self.navigated: list[str] = []
        self.checked: set[str] = set()
        # What the page's policy blocked (inline code, a foreign script) and any script
        # error: a page must have neither.
        self.refused: list[str] = []
        page.on(
            "console",
            lambda message: (
                self.refused.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: self.refused.append(f"script error: {error}"))
        page.on(
            "framenavigated",
            lambda frame: self.navigated.append(frame.url) if frame == page.main_frame else None,
        )

    def go(self, path: str):
        return self.page.goto(self.base_url + path)

    def seen(self, label: str, *, ours: bool = True) -> None:
        """Check and photograph the page; ``ours=False`` for a page serweb only serves (the
        API's Swagger UI), which axe does not judge but the policy still governs."""
        page = self.page
        page.wait_for_load_state("load")
        results = self.axe.run(page) if ours else None
        refused = [
            f"{violation['id']} ({violation['impact']}): {violation['help']} at "
            + ", ".join(str(node["target"]) for node in violation["nodes"])
            for violation in (results.response["violations"] if results else [])
            if violation["impact"] in IMPACTS_REFUSED
        ]
        self.count += 1
        shot = SCREENSHOTS / f"portal-{self.name}-{self.count:02d}-{label}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert not refused, f"{page.url}: " + "; ".join(refused)
        assert not self.refused, f"{page.url}: " + "; ".join(self.refused)
        self.checked.add(page.url)

    def unseen(self) -> list[str]:
        return [url for url in self.navigated if url not in self.checked]


@pytest.fixture
def visit(browser, live_server, transactional_db, request):
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    tab = Visit(page, live_server.url, request.node.name.removeprefix("test_"))
    yield tab
    context.close()
    assert tab.unseen() == [], "pages visited but not checked"


def sign_in(visit: Visit, username: str, password: str) -> None:
    visit.page.get_by_label("Username").fill(username)
    visit.page.get_by_label("Password", exact=True).fill(password)
    visit.page.get_by_role("button", name="Sign in").click()


def start_signed_in(visit: Visit, username: str, password: str, lands_on: str) -> None:
    visit.go("/accounts/login/")
    visit.seen("sign-in")
    sign_in(visit, username, password)
    expect(visit.page).to_have_url(re.compile(f"{lands_on}$"))
    visit.seen(lands_on.strip("/").replace("/", "-"))


def fill_new_password(visit: Visit, password: str) -> None:
    visit.page.get_by_label("New Password", exact=True).fill(password)
    visit.page.get_by_label("New Password (again)").fill(password)


def from_account_menu(visit: Visit, role: str, name: str) -> None:
    visit.page.locator(".account-menu summary").click()
    visit.page.get_by_role(role, name=name).click()


def sign_out(visit: Visit) -> None:
    from_account_menu(visit, "button", "Sign out")
