"""The operators' import and export pages: a CSV file uploaded, previewed (nothing written),
confirmed and run as a job (in-process without a broker) whose progress the page polls,
the refused rows handed back as CSV; domains and subscribers exported as CSV."""

import csv
import io
import os
import stat
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.test import Client
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext

from api import imports
from api import progress as progress_module
from api.jobs import job_run
from api.models import Job
from api.progress import JobProgress
from audit.models import AuditEntry
from domains.models import Domain, DomainName
from domains.services import domain_create
from subscribers.models import Subscriber
from tests.portal_helpers import attrs_of, elements, page_tree, text_of

PASSWORD = "import-page-pw-1"
HA1 = "0123456789abcdef0123456789abcdef"
DOMAINS = (
    "name,aliases,attr.max_contacts\n"
    "alpha.test,sip.alpha.test,2\n"
    "bad..test,,\n"
    "straße.test,,\n"
    "alpha.test,,\n"
)


@pytest.fixture(autouse=True)
def private_var(settings, tmp_path):
    """Uploads of one test alone, in a var/ of its own."""
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def operator(client, alice) -> Client:
    client.force_login(alice)
    return client


def upload(client: Client, text: str | bytes, *, kind: str = "domains", name: str = "d.csv"):
    content = text.encode() if isinstance(text, str) else text
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post("/import/", {"kind": kind, "file": file})


def uploaded(client: Client, text: str, **options) -> str:
    """The preview's address of a file the form took."""
    answer = upload(client, text, **options)
    assert answer.status_code == 302, answer.content
    return answer.url


def field_errors(answer, field: str) -> str:
    """The errors shown right after the field's input."""
    [errors] = elements(page_tree(answer), "small", id=f"id_{field}_error")
    return text_of(errors)


def uploads_kept() -> list[str]:
    return sorted(path.name for path in imports.uploads_dir().iterdir())


# --- upload -------------------------------------------------------------------------------


def test_the_page_offers_the_form_and_the_exports(operator):
    page = operator.get("/import/")

    assert page.status_code == 200
    [form] = elements(page_tree(page), "form", enctype="multipart/form-data")
    assert attrs_of(form)["method"] == "post"
    assert 'href="/import/" aria-current="page">Import</a>' in page.text
    assert 'href="/export/domains.csv"' in page.text
    assert 'href="/export/subscribers.csv"' in page.text


def test_an_upload_is_kept_private_and_leads_to_its_preview(operator):
    url = uploaded(operator, DOMAINS)

    token = url.strip("/").split("/")[-1]
    assert url == f"/import/{token}/"
    directory = imports.uploads_dir()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (directory / f"{token}.csv").read_text() == DOMAINS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
        ("name\nstraße.test\n".encode("latin-1"), "not UTF-8 text"),
        (b"", "The submitted file is empty."),
        ("colour,did\nred,x\n", "missing column(s): name"),
        ("name,colour\nx.test,red\n", "unknown column(s): colour"),
        ('"name\nx.test\n', "bad CSV"),
    ],
    ids=["binary", "latin-1", "empty", "no-name", "unknown-column", "bad-quote"],
)
def test_a_bad_file_is_refused_next_to_the_field(operator, content, message):
    answer = upload(operator, content)

    assert answer.status_code == 200
    assert message in field_errors(answer, "file")
    assert uploads_kept() == []


def test_a_subscriber_file_needs_its_own_header(operator):
    answer = upload(operator, "name\nx.test\n", kind="subscribers")

    assert "missing column(s): username, domain" in field_errors(answer, "file")


def test_a_file_over_the_limit_is_refused(operator, settings):
    settings.SERWEB_IMPORT_MAX_BYTES = 2048
    answer = upload(operator, "name\n" + "x.test\n" * 400)

    assert "at most 2.0" in field_errors(answer, "file")
    assert uploads_kept() == []


def test_the_kind_must_be_one_offered(operator):
    answer = operator.post("/import/", {"kind": "tenants"})

    assert "Select a valid choice" in field_errors(answer, "kind")
    assert "This field is required" in field_errors(answer, "file")


def test_old_uploads_are_removed_by_the_next(operator):
    url = uploaded(operator, DOMAINS)
    long_ago = time.time() - (imports.UPLOAD_HOURS + 1) * 3600
    for path in imports.uploads_dir().iterdir():
        os.utime(path, (long_ago, long_ago))

    uploaded(operator, DOMAINS)

    assert len(uploads_kept()) == 2  # the new file and its description
    assert operator.get(url).status_code == 404


# --- preview ------------------------------------------------------------------------------


def test_the_preview_shows_rows_to_create_and_rows_in_error_and_writes_nothing(operator):
    before = (Domain.objects.count(), AuditEntry.objects.count())

    page = operator.get(uploaded(operator, DOMAINS))

    assert page.status_code == 200
    tree = page_tree(page)
    stats = [text_of(e) for e in elements(tree, "p", class_="stat-value")]
    assert stats == ["2", "2"]
    errors = page.text.replace("\xa0", " ")
    assert "empty label in domain name" in errors
    assert "alpha.test is given twice: also on line 2" in errors
    # Names in Unicode, the A-label on hover.
    assert '<span class="sipname" title="xn--strae-oqa.test">straße.test</span>' in page.text
    rows = [text_of(r) for r in elements(tree, "tr")]
    assert any(r.startswith("3") and "empty label" in r for r in rows), rows
    assert (Domain.objects.count(), AuditEntry.objects.count()) == before


def test_a_file_that_cannot_be_imported_says_so_and_offers_no_import(operator):
    page = operator.get(uploaded(operator, 'name\nok.test\n"bad.test\n'))

    assert "This file cannot be imported" in page.text
    assert "bad CSV" in page.text
    assert "Confirm and import" not in page.text


def test_another_operators_upload_is_not_found(operator, client, alice):
    url = uploaded(operator, DOMAINS)
    dora = get_user_model().objects.create_user("dora", password="dora-pass", is_staff=True)
    other = Client()
    other.force_login(dora)

    assert other.get(url).status_code == 404
    assert other.post(f"{url}run/").status_code == 404
    assert other.get("/import/not-a-token/").status_code == 404


def test_discarding_an_upload_removes_it(operator):
    url = uploaded(operator, DOMAINS)

    answer = operator.post(f"{url}discard/", follow=True)

    assert answer.redirect_chain[-1][0] == "/import/"
    assert "d.csv was discarded; nothing was imported." in answer.text
    assert uploads_kept() == []
    assert operator.get(url).status_code == 404


# --- the job ------------------------------------------------------------------------------


@pytest.fixture
def confirmed(django_capture_on_commit_callbacks):
    """Confirm the preview at ``url``: the job runs in-process, after the commit, before
    the answer."""

    def confirm(client: Client, url: str):
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(f"{url}run/")
        assert answer.status_code == 302, answer.content
        return answer

    return confirm


def test_confirming_runs_the_import_as_a_job_in_process(operator, alice, confirmed):
    url = uploaded(operator, DOMAINS)

    answer = confirmed(operator, url)

    job = Job.objects.get()
    assert answer.url == f"/imports/{job.pk}/"
    assert (job.kind, job.state, job.user) == (Job.Kind.IMPORT_DOMAINS, "done", alice)
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert job.result["summary"] == {"domains": 2, "names": 3, "attributes": 1}
    assert job.result["rows_refused"] == 2
    assert set(Domain.objects.values_list("did", flat=True)) == {
        "alpha.test",
        "xn--strae-oqa.test",
    }
    entry = AuditEntry.objects.get(action="import.domains")
    assert (entry.actor, entry.channel, entry.object_repr) == (alice, "task", "d.csv")
    # The file went with its job.
    assert uploads_kept() == []
    assert operator.post(f"{url}run/").status_code == 404


def test_the_job_page_shows_the_result_and_the_bad_rows(operator, confirmed):
    page = operator.get(confirmed(operator, uploaded(operator, DOMAINS)).url)

    text = page.text.replace("\xa0", " ")
    assert "The import of d.csv has started." in text
    assert "Created 2 domains (3 names, 1 attributes); 2 rows in error left out." in text
    assert "empty label in domain name" in text
    [link] = [
        a
        for a in elements(page_tree(page), "a")
        if attrs_of(a).get("href", "").endswith("/bad-rows.csv")
    ]
    assert "hx-get" not in page.text  # nothing left to poll


def test_the_bad_rows_download_as_csv_to_fix(operator, confirmed):
    job_url = confirmed(operator, uploaded(operator, DOMAINS)).url

    answer = operator.get(f"{job_url}bad-rows.csv")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="d-bad-rows.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert rows[0] == ["name", "aliases", "attr.max_contacts", "error"]
    assert rows[1][:3] == ["bad..test", "", ""] and "empty label" in rows[1][3]
    assert rows[2][:3] == ["alpha.test", "", ""]
    assert rows[2][3] == (
        "alpha.test is given twice: also on line 2; domain id alpha.test is given twice: also on"
        " line 2"
    )


def test_a_subscriber_import_never_keeps_or_hands_back_a_secret(operator, alice, confirmed):
    domain_create(actor=alice, name="alpha.test")
    text = (
        f"username,domain,password,ha1,ha1b\nann,alpha.test,{PASSWORD},,\n"
        f"ben,nowhere.test,{PASSWORD},,\ncid,alpha.test,,{HA1},{HA1}\n"
        f"dan,alpha.test,,{HA1},nothex\n"
    )
    job_url = confirmed(operator, uploaded(operator, text, kind="subscribers", name="s.csv")).url

    job = Job.objects.get()
    assert job.result["summary"] == {"subscribers": 2, "valid_froms": 2}
    assert sorted(Subscriber.objects.values_list("username", flat=True)) == ["ann", "cid"]
    download = b"".join(operator.get(f"{job_url}bad-rows.csv").streaming_content).decode()
    for shown in (str(job.result), job.error, operator.get(job_url).text, download):
        assert PASSWORD not in str(shown) and HA1 not in str(shown)
    assert download.splitlines()[1] == "ben,nowhere.test,,,,no domain named 'nowhere.test'"


def test_the_progress_fragment_polls_until_the_job_ends(operator, alice):
    job = Job.objects.create(
        user=alice,
        kind=Job.Kind.IMPORT_DOMAINS,
        target_id=0,
        target="tok run.csv",
        state=Job.State.RUNNING,
        progress_done=5000,
        progress_total=12000,
    )
    url = f"/imports/{job.pk}/"

    fragment = operator.get(f"{url}?part=progress", HTTP_HX_REQUEST="true")
    assert "<html" not in fragment.text
    [section] = elements(parse_html(f"<div>{fragment.text}</div>"), "section", id="import-progress")
    assert attrs_of(section)["hx-get"] == f"{url}?part=progress"
    assert attrs_of(section)["hx-trigger"] == "every 1s"
    [bar] = elements(section, "progress")
    assert (attrs_of(bar)["value"], attrs_of(bar)["max"]) == ("5000", "12000")
    assert "5000 of 12000 rows read" in fragment.text
    # Without htmx, the whole page.
    assert "<html" in operator.get(f"{url}?part=progress").text

    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED, error={"detail": "line 7: bad CSV: unexpected end of data"}
    )
    ended = operator.get(f"{url}?part=progress", HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in ended.text
    assert "The import failed" in ended.text and "line 7: bad CSV" in ended.text


def test_a_job_whose_upload_expired_fails_with_a_reason(operator, alice):
    url = uploaded(operator, DOMAINS)
    token = url.strip("/").split("/")[-1]
    job = Job.objects.create(
        user=alice, kind=Job.Kind.IMPORT_DOMAINS, target_id=0, target=f"{token} d.csv"
    )
    for path in imports.uploads_dir().iterdir():
        path.unlink()

    job_run(job.pk)

    job.refresh_from_db()
    assert job.state == "failed"
    assert "imported, discarded or expired" in job.error["detail"]
    assert not Domain.objects.exists()
    assert "bad-rows.csv" not in operator.get(f"/imports/{job.pk}/").text
    assert operator.get(f"/imports/{job.pk}/bad-rows.csv").status_code == 404


def test_another_operators_import_is_not_found(operator, alice, confirmed):
    job_url = confirmed(operator, uploaded(operator, DOMAINS)).url
    dora = get_user_model().objects.create_user("dora", password="dora-pass", is_staff=True)
    other = Client()
    other.force_login(dora)

    assert other.get(job_url).status_code == 404
    assert other.get(f"{job_url}bad-rows.csv").status_code == 404
    verify = Job.objects.create(user=alice, kind=Job.Kind.VERIFY_DOMAIN, target_id=1, target="x")
    assert operator.get(f"/imports/{verify.pk}/").status_code == 404


def test_the_import_page_lists_the_recent_imports(operator, confirmed):
    confirmed(operator, uploaded(operator, DOMAINS, name="batch-1.csv"))

    page = operator.get("/import/")

    [row] = [text_of(r) for r in elements(page_tree(page), "tbody")]
    assert "batch-1.csv" in row and "done" in row and row.endswith("2")


# --- export -------------------------------------------------------------------------------


def test_domains_export_as_csv(operator, alice):
    domain_create(actor=alice, name="b.test", aliases=["sip.b.test"], attributes={"tier": "gold"})
    domain_create(actor=alice, name="a.test", enabled=False)

    answer = operator.get("/export/domains.csv")

    assert answer["Content-Disposition"] == 'attachment; filename="domains.csv"'
    assert answer["Cache-Control"] == "no-store"
    assert b"".join(answer.streaming_content).decode().splitlines() == [
        "name,aliases,did,enabled,attr.tier",
        "a.test,,a.test,no,",
        "b.test,sip.b.test,b.test,yes,gold",
    ]


def test_subscribers_export_as_csv_without_secrets(operator, alice):
    domain = domain_create(actor=alice, name="a.test")
    Subscriber.objects.create(domain=domain, username="ann", ha1=HA1, ha1b=HA1, ha1_realm="a.test")

    text = b"".join(operator.get("/export/subscribers.csv").streaming_content).decode()

    assert text.splitlines() == ["username,domain,email,valid_from,enabled", "ann,a.test,,,yes"]
    assert HA1 not in text


def test_an_export_answers_in_a_constant_number_of_queries(operator, alice):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            b"".join(operator.get("/export/domains.csv").streaming_content)
        return len(captured)

    domain_create(actor=alice, name="one.test")
    few = queries()
    for i in range(30):
        domain_create(actor=alice, name=f"d{i}.test", aliases=[f"s{i}.test"])
    assert queries() == few


# --- who may -----------------------------------------------------------------------------

PAGES = ["/import/", "/export/domains.csv", "/export/subscribers.csv"]


@pytest.mark.parametrize("url", [*PAGES, "/imports/1/", "/imports/1/bad-rows.csv"])
def test_anonymous_visitors_are_sent_to_sign_in(client, db, url):
    answer = client.get(url)

    assert answer.status_code == 302 and answer.url.startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_tenants_get_404(client, bob, url):
    client.force_login(bob)

    assert client.get(url).status_code == 404
    assert client.post("/import/", {"kind": "domains"}).status_code == 404


def test_a_tenant_cannot_reach_an_operators_upload_or_import(operator, client, bob):
    url = uploaded(operator, DOMAINS)
    tenant = Client()
    tenant.force_login(bob)

    assert tenant.get(url).status_code == 404
    assert tenant.post(f"{url}run/").status_code == 404
    assert not Job.objects.exists()


def test_the_navigation_has_import_for_operators_only(operator, client, bob):
    assert 'href="/import/"' in operator.get("/dashboard/").text
    tenant = Client()
    tenant.force_login(bob)
    assert 'href="/import/"' not in tenant.get("/my/domains/").text


def test_confirm_and_discard_are_posts_with_a_token(operator, alice):
    url = uploaded(operator, DOMAINS)
    assert operator.get(f"{url}run/").status_code == 405
    assert operator.get(f"{url}discard/").status_code == 405
    page = page_tree(operator.get(url))
    forms = [f for f in elements(page, "form") if attrs_of(f)["action"].startswith(url)]
    assert {attrs_of(f)["action"] for f in forms} == {f"{url}run/", f"{url}discard/"}
    for form in forms:
        assert len(list(elements(form, "input", name="csrfmiddlewaretoken"))) == 1

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(f"{url}run/").status_code == 403
    assert strict.post(f"{url}discard/").status_code == 403
    assert strict.post("/import/", {"kind": "domains"}).status_code == 403
    assert not Job.objects.exists()
    assert not DomainName.objects.exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_progress_is_seen_while_the_import_transaction_is_open(
    transactional_db, alice, monkeypatch
):
    monkeypatch.setattr(progress_module, "EVERY", 0)
    job = Job.objects.create(user=alice, kind=Job.Kind.IMPORT_DOMAINS, target_id=0, target="t")
    onlooker = connections.create_connection(DEFAULT_DB_ALIAS)

    def seen() -> tuple[int, int]:
        with onlooker.cursor() as cursor:
            cursor.execute(
                "SELECT progress_done, progress_total FROM api_job WHERE id = %s", [job.pk]
            )
            return cursor.fetchone()

    try:
        progress = JobProgress(job, total=10)
        assert seen() == (0, 10)
        with transaction.atomic():
            progress(4)
            assert seen() == (4, 10)
            progress(8)
            assert seen() == (8, 10)
        progress.close(finished=True)
        assert seen() == (10, 10)
    finally:
        onlooker.close()


def test_the_domain_export_takes_the_lists_filters(client, alice):
    from domains.services import domain_create, domain_disable

    domain_create(actor=alice, name="kept.example.com")
    domain_disable(actor=alice, domain=domain_create(actor=alice, name="off.example.com"))
    client.force_login(alice)
    everything = b"".join(client.get("/export/domains.csv").streaming_content).decode()
    switched_off = b"".join(
        client.get("/export/domains.csv?enabled=false").streaming_content
    ).decode()
    assert "kept.example.com" in everything and "off.example.com" in everything
    assert "off.example.com" in switched_off and "kept.example.com" not in switched_off
    assert client.get("/export/domains.csv?enabled=maybe").status_code == 400
    listing = client.get("/domains/?enabled=false").content.decode()
    assert "/export/domains.csv?enabled=false" in listing


def test_the_subscribers_export_takes_the_lists_search(operator, alice):
    a = domain_create(actor=alice, name="a.test")
    b = domain_create(actor=alice, name="b.test")
    for domain, username, enabled in [(a, "ann", True), (a, "art", False), (b, "bea", True)]:
        Subscriber.objects.create(
            domain=domain,
            username=username,
            ha1=HA1,
            ha1b=HA1,
            ha1_realm=domain.did,
            enabled=enabled,
        )

    def exported(query: str) -> list[str]:
        answer = operator.get("/export/subscribers.csv?" + query)
        return b"".join(answer.streaming_content).decode().splitlines()[1:]

    assert exported("domain=a.test") == ["ann,a.test,,,yes", "art,a.test,,,no"]
    assert exported("domain=a.test&enabled=false") == ["art,a.test,,,no"]
    assert exported("q=b") == ["bea,b.test,,,yes"]
    # The list links to the export of what it shows.
    page = operator.get("/subscribers/?domain=a.test&enabled=true").text
    assert 'href="/export/subscribers.csv?domain=a.test&amp;enabled=true"' in page
    refused = operator.get("/export/subscribers.csv?enabled=perhaps")
    assert refused.status_code == 400 and b"enabled" in refused.content


def test_a_tenants_subscriber_list_offers_no_export(client, alice, bob):
    client.force_login(bob)
    domain = domain_create(actor=alice, name="bob.test", tenant=bob.tenant)
    Subscriber.objects.create(
        domain=domain, username="ann", ha1=HA1, ha1b=HA1, ha1_realm="bob.test"
    )
    page = client.get("/my/subscribers/").text
    assert "ann" in page and "export" not in page
    assert client.get("/export/subscribers.csv").status_code == 404
