"""Importing in a real browser: an operator uploads a CSV file with one bad row, sees that
row's error in the preview, confirms, watches the progress reach done and downloads the
row in error to fix it. Every page is checked with axe and photographed (tests/browser.py)."""

import re

import pytest
from playwright.sync_api import expect

from domains.models import Domain
from domains.services import domain_create
from proxies.models import ProxyTransport
from proxies.services import proxy_create
from tests.browser import NARROW, WIDE, start_signed_in

FILE = (
    "name,aliases,did,attr.max_contacts\n"
    "alpha.example.org,sip.alpha.example.org,,2\n"
    "beta.example.org,,,\n"
    "straße.example.org,sip.straße.example.org,,\n"
    "taken.example.org,,,\n"
    "gamma.example.org,192.0.2.40,gamma-id,5\n"
    "delta.example.org,,,\n"
)


@pytest.fixture(autouse=True)
def private_var(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


def test_an_operator_imports_a_file_with_one_bad_row(visit, alice, tmp_path):
    domain_create(actor=alice, name="taken.example.org")
    proxy_create(
        actor=alice, name="edge", transport=ProxyTransport.FIFO, address=str(tmp_path / "k.fifo")
    )
    page = visit.page
    start_signed_in(visit, "alice", "alice-pass", "/dashboard/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page).to_have_url(re.compile(r"/import/$"))
    expect(page.get_by_role("heading", name="Import and export", level=1)).to_be_visible()
    visit.seen("import")

    # A file that is no CSV is refused next to the field.
    image = tmp_path / "logo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    page.get_by_label("CSV file", exact=True).set_input_files(image)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#id_file_error")).to_contain_text("not a CSV file")
    expect(page.get_by_label("CSV file", exact=True)).to_have_attribute("aria-invalid", "true")
    visit.seen("import-refused")

    upload = tmp_path / "new-domains.csv"
    upload.write_text(FILE, encoding="utf-8")
    page.get_by_label("Domains", exact=True).check()
    page.get_by_label("CSV file", exact=True).set_input_files(upload)
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_role("heading", name="Preview of new-domains.csv")).to_be_visible()
    errors = page.get_by_role("region", name="Rows in error")
    expect(errors.get_by_role("row")).to_have_count(2)
    expect(errors).to_contain_text("taken.example.org already belongs to domain taken.example.org")
    expect(errors.get_by_role("rowheader")).to_have_text("5")
    sample = page.get_by_role("region", name="Rows to create")
    expect(sample.get_by_role("row")).to_have_count(6)
    expect(sample.get_by_title("xn--strae-oqa.example.org", exact=True)).to_have_text(
        "straße.example.org"
    )
    assert Domain.objects.count() == 1  # nothing written yet
    visit.seen("import-preview")
    page.set_viewport_size(NARROW)
    visit.seen("import-preview-narrow")
    page.set_viewport_size(WIDE)

    page.get_by_role("button", name="Confirm and import").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    progress = page.locator("#import-progress")
    expect(progress).to_contain_text("Done.")
    expect(progress).to_contain_text("Created 5 domains (8 names, 2 attributes)")
    expect(progress).to_contain_text("1 row in error left out")
    expect(progress.locator("progress")).to_have_attribute("value", "1")
    # The new domains are not served before the proxy reloads: the page says so.
    expect(progress).to_contain_text("not live yet on proxy edge")
    expect(page.get_by_role("status").first).to_contain_text("has started")
    visit.seen("import-done")
    assert Domain.objects.count() == 6

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download the rows in error (CSV)").click()
    download = downloading.value
    assert download.suggested_filename == "new-domains-bad-rows.csv"
    lines = tmp_path / "saved.csv"
    download.save_as(lines)
    assert lines.read_text().splitlines() == [
        "name,aliases,did,attr.max_contacts,error",
        "taken.example.org,,,,taken.example.org already belongs to domain taken.example.org; "
        "domain id taken.example.org is taken by another domain; give another one",
    ]

    page.get_by_role("link", name="Import another file").click()
    recent = page.get_by_role("region", name="Your recent imports")
    expect(recent.get_by_role("row")).to_have_count(2)
    expect(recent).to_contain_text("new-domains.csv")
    visit.seen("import-recent")
