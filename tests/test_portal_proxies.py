"""The proxies page: each proxy's live status (refreshed as a fragment), adding, editing
and deleting proxies through the services, and "reload now" run as a job whose result the
page polls; in a fixed number of queries; operators only."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.jobs import job_run
from api.models import Job
from audit.models import AuditEntry
from domains.services import domain_create
from proxies.models import Proxy
from proxies.services import proxy_create
from proxies.status import proxy_status_list
from tests.kamailio_harness import running_kamailio
from tests.portal_helpers import SIGN_IN, field_errors, flash_messages
from tests.test_portal_access import post_forms, refused_without_token

GOOD = {"name": "edge-1", "transport": "udp", "address": "192.0.2.7:8090", "sip_address": ""}


@pytest.fixture
def operator(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def edge(alice, tmp_path) -> Proxy:
    return proxy_create(
        actor=alice, name="edge-0", transport="fifo", address=str(tmp_path / "k.fifo")
    )


def written() -> tuple[list, int]:
    """Everything a proxy form could write."""
    rows = list(Proxy.objects.order_by("pk").values())
    return rows, AuditEntry.objects.count()


def queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url, **headers)
    assert answer.status_code == 200
    return len(captured)


# --- the list and its status -----------------------------------------------------------------


def test_the_page_shows_each_proxys_state_the_dids_waiting_and_the_error(operator, alice, edge):
    domain_create(actor=alice, name="waits.example.com")
    Proxy.objects.filter(pk=edge.pk).update(
        last_error="k.fifo does not exist: Kamailio is not running",
        last_error_at=timezone.now(),
        failures=2,
        next_retry_at=timezone.now() + timedelta(minutes=4),
    )
    proxy_create(actor=alice, name="edge-full", transport="udp", address="192.0.2.8:8090")
    Proxy.objects.filter(name="edge-full").update(
        last_error="shared memory: 1.0 MiB free, the reload needs 3.0 MiB",
        last_error_at=timezone.now(),
        shm_free=1 << 20,
        shm_total=64 << 20,
    )

    page = " ".join(operator.get("/proxies/").text.split())

    assert 'href="/proxies/" aria-current="page">Proxies</a>' in page
    assert "badge-proxy-failing" in page and "badge-proxy-no-room" in page
    assert "<code>waits.example.com</code>" in page
    assert "k.fifo does not exist: Kamailio is not running" in page
    assert "next try after" in page
    assert "1.0 MB free of 64.0 MB" in page
    for action in [f"/proxies/{edge.pk}/reload/", f"/proxies/{edge.pk}/edit/"]:
        assert action in page


def test_the_status_refreshes_itself_as_a_fragment(operator, edge):
    fragment = operator.get("/proxies/?part=status", HTTP_HX_REQUEST="true").text
    assert fragment.lstrip().startswith('<section id="proxy-status"')
    assert "<html" not in fragment and "edge-0" in fragment
    assert 'hx-trigger="every 5s, proxy-status-changed from:body"' in fragment
    # Without htmx the same address is the whole page.
    assert "<html" in operator.get("/proxies/?part=status").text


def test_the_dashboard_panel_is_the_same_status(operator, edge):
    panel = operator.get("/dashboard/?part=proxies", HTTP_HX_REQUEST="true").text
    assert 'hx-get="/dashboard/?part=proxies"' in panel and "edge-0" in panel
    assert 'href="/proxies/">Manage the proxies</a>' in panel
    assert "/reload/" not in panel  # the actions are the proxies page's


def test_the_number_of_queries_does_not_grow_with_proxies_or_domains(operator, alice, tmp_path):
    def grow(start: int, count: int) -> None:
        for i in range(start, start + count):
            proxy_create(actor=alice, name=f"p{i}", transport="fifo", address=f"/run/p{i}.fifo")
            domain_create(actor=alice, name=f"d{i}.example.com")

    grow(0, 1)
    few = (
        queries(operator, "/proxies/"),
        queries(operator, "/proxies/?part=status", HTTP_HX_REQUEST="true"),
    )
    grow(1, 15)
    many = (
        queries(operator, "/proxies/"),
        queries(operator, "/proxies/?part=status", HTTP_HX_REQUEST="true"),
    )
    assert many == few
    assert "d15.example.com" in operator.get("/proxies/").text


def test_each_proxy_lists_the_latest_domains_it_has_not_loaded(alice):
    old = domain_create(actor=alice, name="old.example.com")
    loaded_at = old.updated_at
    for name in ["b.example.com", "c.example.com"]:
        domain_create(actor=alice, name=name)
    proxy_create(actor=alice, name="caught", transport="udp", address="192.0.2.1:1")
    proxy_create(actor=alice, name="never", transport="udp", address="192.0.2.2:1")
    Proxy.objects.filter(name="caught").update(applied_generation=0, applied_changed_at=loaded_at)

    statuses = {status.name: status for status in proxy_status_list(pending_limit=5)}
    assert statuses["caught"].pending_dids == ["c.example.com", "b.example.com"]
    assert statuses["never"].pending_dids == ["c.example.com", "b.example.com", "old.example.com"]
    assert (statuses["caught"].pending_count, statuses["never"].pending_count) == (2, 3)
    short = {status.name: status for status in proxy_status_list(pending_limit=1)}
    assert short["never"].pending_dids == ["c.example.com"]
    assert [s.pending_dids for s in proxy_status_list(pending_limit=0)] == [[], []]


# --- add, edit, delete ---------------------------------------------------------------------


def test_an_operator_adds_a_proxy(operator):
    answer = operator.post("/proxies/add/", {**GOOD, "sip_address": "192.0.2.7:5060"})

    assert answer.status_code == 302 and answer.url == "/proxies/"
    proxy = Proxy.objects.get()
    assert (proxy.name, proxy.transport, proxy.address, proxy.sip_address) == (
        "edge-1",
        "udp",
        "192.0.2.7:8090",
        "192.0.2.7:5060",
    )
    entry = AuditEntry.objects.get(action="proxy.create")
    assert (entry.actor_name, entry.channel) == ("alice", "web")
    [message] = flash_messages(operator.get("/proxies/"))
    assert message.startswith("Added proxy edge-1.")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 65}, "name", "at most 64 characters"),
        ({"name": "edge-0"}, "name", "a proxy named edge-0 exists already"),
        ({"transport": "smoke"}, "transport", "Select a valid choice."),
        ({"transport": "fifo", "address": "run/k.fifo"}, "address", "must be absolute"),
        ({"address": "192.0.2.7"}, "address", "expected HOST:PORT"),
        ({"transport": "http", "address": "ftp://x.example/"}, "address", "http:// or https://"),
        ({"address": "   "}, "address", "This field is required."),
        ({"sip_address": "nowhere"}, "sip_address", "expected HOST:PORT"),
        ({"name": "a\x00b"}, "name", "Null characters are not allowed."),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_written(
    operator, edge, changes, field, message
):
    before = written()

    answer = operator.post("/proxies/add/", {**GOOD, **changes})

    assert answer.status_code == 200
    errors = field_errors(answer)
    assert list(errors) == [field] and message in errors[field], errors
    assert written() == before


def test_an_operator_edits_a_proxy_and_a_new_address_forgets_what_it_loaded(operator, edge):
    Proxy.objects.filter(pk=edge.pk).update(
        applied_generation=3, last_error="old trouble", last_error_at=timezone.now()
    )
    form = operator.get(f"/proxies/{edge.pk}/edit/").text
    assert f'value="{edge.address}"' in form and 'id="id_enabled" checked' in form

    answer = operator.post(
        f"/proxies/{edge.pk}/edit/",
        {"name": "edge-renamed", "transport": "udp", "address": "192.0.2.9:8090", "enabled": "on"},
    )

    assert answer.status_code == 302
    edge.refresh_from_db()
    assert (edge.name, edge.transport, edge.address, edge.enabled) == (
        "edge-renamed",
        "udp",
        "192.0.2.9:8090",
        True,
    )
    assert (edge.applied_generation, edge.last_error) == (0, "")
    entry = AuditEntry.objects.get(action="proxy.update")
    assert entry.before["name"] == "edge-0" and entry.after["address"] == "192.0.2.9:8090"
    [message] = flash_messages(operator.get("/proxies/"))
    assert message == "Saved proxy edge-renamed. It serves nothing of serweb's yet: reload it."


def test_switching_a_proxy_off_keeps_what_it_loaded(operator, edge):
    Proxy.objects.filter(pk=edge.pk).update(applied_generation=3)
    data = {"name": edge.name, "transport": edge.transport, "address": edge.address}

    operator.post(f"/proxies/{edge.pk}/edit/", data)  # the box unticked

    edge.refresh_from_db()
    assert (edge.enabled, edge.applied_generation) == (False, 3)
    assert "badge-proxy-disabled" in operator.get("/proxies/").text


def test_a_bad_edit_is_shown_next_to_its_field_and_nothing_is_written(operator, alice, edge):
    proxy_create(actor=alice, name="other", transport="udp", address="192.0.2.1:1")
    before = written()
    data = {"name": "other", "transport": "fifo", "address": edge.address, "enabled": "on"}

    answer = operator.post(f"/proxies/{edge.pk}/edit/", data)

    assert field_errors(answer) == {"name": "a proxy named other exists already"}
    assert written() == before


def test_a_new_name_alone_keeps_what_the_proxy_loaded(operator, edge):
    Proxy.objects.filter(pk=edge.pk).update(applied_generation=3)
    data = {"name": "edge-new", "transport": "fifo", "address": edge.address, "enabled": "on"}
    operator.post(f"/proxies/{edge.pk}/edit/", data)
    edge.refresh_from_db()
    assert (edge.name, edge.applied_generation) == ("edge-new", 3)
    assert AuditEntry.objects.get(action="proxy.update").after == {"name": "edge-new"}


def test_an_edit_that_changes_nothing_writes_nothing(operator, edge):
    before = written()
    data = {"name": edge.name, "transport": "fifo", "address": edge.address, "enabled": "on"}
    assert operator.post(f"/proxies/{edge.pk}/edit/", data).status_code == 302
    assert written() == before


def test_deleting_asks_first_and_then_deletes(operator, edge):
    confirm = operator.get(f"/proxies/{edge.pk}/delete/")
    assert "Delete proxy edge-0?" in confirm.text and Proxy.objects.exists()

    answer = operator.post(f"/proxies/{edge.pk}/delete/")

    assert answer.status_code == 302 and not Proxy.objects.exists()
    assert AuditEntry.objects.filter(action="proxy.delete").count() == 1
    assert flash_messages(operator.get("/proxies/"))[0].startswith("Deleted proxy edge-0")
    assert operator.post(f"/proxies/{edge.pk}/delete/").status_code == 404


# --- reload now ------------------------------------------------------------------------------


def test_reload_now_runs_a_job_and_the_page_shows_its_result(
    operator, alice, edge, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = operator.post(f"/proxies/{edge.pk}/reload/")

    job = Job.objects.get()
    assert (job.kind, job.target_id, job.target, job.user) == (
        Job.Kind.RELOAD_PROXY,
        edge.pk,
        "edge-0",
        alice,
    )
    assert answer.url == f"/proxies/?job={job.pk}"
    # No broker: the job ran once the request committed. Nobody listens on the FIFO.
    assert job.state == Job.State.DONE and job.result["ok"] is False
    page = " ".join(operator.get(answer.url).text.split())
    assert "Reload of edge-0 asked for; its result shows below." in page
    assert '<section id="reload-job"' in page and "hx-get" not in page.split("reload-job")[1][:200]
    assert "Not reloaded:</strong> edge-0 retry: before the reload:" in page
    edge.refresh_from_db()
    assert edge.failures == 1


def test_a_running_reload_is_polled_until_it_has_finished(operator, alice, edge):
    job = Job.objects.create(
        user=alice, kind=Job.Kind.RELOAD_PROXY, target_id=edge.pk, target=edge.name
    )
    url = f"/proxies/reloads/{job.pk}/"

    waiting = operator.get(url, HTTP_HX_REQUEST="true")
    assert waiting.text.lstrip().startswith('<section id="reload-job"')
    assert f'hx-get="{url}" hx-trigger="every 1s"' in waiting.text
    assert "Waiting for a worker" in waiting.text and "HX-Trigger" not in waiting.headers

    job_run(job.pk)
    done = operator.get(url, HTTP_HX_REQUEST="true")
    assert "hx-get" not in done.text and "Not reloaded:" in done.text
    # The status table refreshes at once.
    assert done.headers["HX-Trigger"] == "proxy-status-changed"
    # Without htmx, the job's own page.
    assert "<html" in operator.get(url).text


def test_a_reload_of_a_proxy_deleted_meanwhile_says_so(operator, alice, edge):
    job = Job.objects.create(
        user=alice, kind=Job.Kind.RELOAD_PROXY, target_id=edge.pk, target=edge.name
    )
    Proxy.objects.all().delete()
    job_run(job.pk)
    page = operator.get(f"/proxies/?job={job.pk}").text
    assert "It could not run: proxy edge-0 does not exist any more" in page


def test_reload_is_a_post_and_only_of_a_proxy_that_exists(operator, edge):
    assert operator.get(f"/proxies/{edge.pk}/reload/").status_code == 405
    assert operator.post(f"/proxies/{edge.pk + 1}/reload/").status_code == 404
    assert not Job.objects.exists()


def test_only_reload_jobs_are_shown(operator, alice, edge):
    other = Job.objects.create(
        user=alice, kind=Job.Kind.VERIFY_DOMAIN, target_id=1, target="x.example"
    )
    assert operator.get(f"/proxies/reloads/{other.pk}/").status_code == 404
    assert "reload-job" not in operator.get(f"/proxies/?job={other.pk}").text
    for junk in ["abc", "-1", "²", "9" * 30]:
        assert operator.get(f"/proxies/?job={junk}").status_code == 200
    assert operator.get(f"/proxies/reloads/{'9' * 30}/").status_code == 404
    assert operator.get(f"/proxies/{'9' * 30}/edit/").status_code == 404


# --- who may ---------------------------------------------------------------------------------


def urls(edge: Proxy, job: Job) -> list[str]:
    return [
        "/proxies/",
        "/proxies/?part=status",
        "/proxies/add/",
        f"/proxies/{edge.pk}/edit/",
        f"/proxies/{edge.pk}/delete/",
        f"/proxies/{edge.pk}/reload/",
        f"/proxies/reloads/{job.pk}/",
    ]


@pytest.fixture
def job(alice, edge) -> Job:
    return Job.objects.create(
        user=alice, kind=Job.Kind.RELOAD_PROXY, target_id=edge.pk, target=edge.name
    )


def test_tenants_get_404_and_change_nothing(client, bob, edge, job):
    client.force_login(bob)
    before = written(), Job.objects.count()
    for url in urls(edge, job):
        assert client.get(url).status_code == 404, url
        assert client.post(url, GOOD).status_code == 404, url
    assert (written(), Job.objects.count()) == before


def test_anonymous_visitors_are_sent_to_the_sign_in(client, edge, job):
    before = written(), Job.objects.count()
    for url in urls(edge, job):
        for answer in (client.get(url), client.post(url, GOOD)):
            assert answer.status_code == 302 and answer.url.startswith(f"{SIGN_IN}?next="), url
    assert (written(), Job.objects.count()) == before


def test_every_form_has_a_token_and_needs_it(operator, edge, job):
    actions = set()
    for url in [f"/proxies/?job={job.pk}", "/proxies/add/", *urls(edge, job)[3:5]]:
        actions.update(post_forms(operator, url))
    assert f"/proxies/{edge.pk}/reload/" in actions and "/proxies/add/" in actions
    for action in actions:
        assert refused_without_token(operator, action), action


# --- against a real Kamailio -------------------------------------------------------------------


@pytest.fixture(scope="session")
def kamailio(django_db_setup, django_db_blocker):
    with running_kamailio(django_db_blocker, "portal") as instance:
        yield instance


@pytest.mark.postgres
def test_reload_now_brings_a_real_kamailio_up_to_date_and_the_page_says_so(
    transactional_db, operator, alice, kamailio
):
    # The domain first: its commit reloads no proxy, as none is registered yet.
    domain_create(actor=alice, name="live.portal.test", aliases=["sip.live.portal.test"])
    proxy = proxy_create(
        actor=alice,
        name="kam",
        transport="fifo",
        address=kamailio.fifo,
        sip_address=kamailio.sip_address,
    )
    assert kamailio.serves("sip.live.portal.test") is None
    before = " ".join(operator.get("/proxies/").text.split())
    assert "badge-proxy-pending" in before and "<code>live.portal.test</code>" in before
    reloads = kamailio.reloads_logged()

    answer = operator.post(f"/proxies/{proxy.pk}/reload/", follow=True)

    page = " ".join(answer.text.split())
    job = Job.objects.get()
    assert answer.redirect_chain == [(f"/proxies/?job={job.pk}", 302)]
    generation = job.result["generation"]
    assert f"<strong>Done:</strong> kam reloaded, generation {generation} live." in page
    assert "badge-proxy-live" in page and f"{generation} / {generation}" in page
    assert kamailio.reloads_logged() == reloads + 1
    assert kamailio.serves("sip.live.portal.test") == "live.portal.test"
