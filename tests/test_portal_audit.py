"""The audit log page: filters by actor, channel, object, action, time and run; each entry's
change as a field diff, secrets only as "changed"; the entries of one request, command or
job together; operators only; keyset pages in a constant number of queries."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.diff import Kind, entry_diff
from audit.middleware import REQUEST_ID_HEADER, AuditRequestMiddleware
from audit.models import AuditEntry
from audit.services import audit_channel, audit_group, audit_record
from domains.models import Tenant
from domains.services import domain_create, domain_disable, domain_name_add, tenant_set_password
from subscribers.services import subscriber_create, subscriber_set_password
from tests.api_helpers import client_for
from tests.portal_helpers import attrs_of, elements, page_tree, text_of
from tests.test_cli import run

AUDIT = "/audit/"


# --- reading the page ---------------------------------------------------------------------


def audit_page(client, query: str = "", **headers):
    response = client.get(AUDIT + query, headers=headers)
    assert response.status_code == 200, response.content[:500]
    return response


def entry_rows(response) -> list:
    """The rows of entries (not the runs' heading rows), top to bottom."""
    [table] = elements(page_tree(response), "table", class_="audit-log")
    return [
        row
        for body in elements(table, "tbody")
        for row in elements(body, "tr")
        if "run-head" not in (attrs_of(row).get("class") or "")
    ]


def cells(row) -> list:
    return [cell for cell in row.children if not isinstance(cell, str)]


def listed(client, query: str = "") -> list[tuple[str, str]]:
    """(action, object) of every entry the page lists."""
    response = audit_page(client, query)
    if b'class="audit-log"' not in response.content:
        return []
    found = []
    for row in entry_rows(response):
        action = text_of(next(elements(cells(row)[3], "code")))
        found.append((action, text_of(cells(row)[4]).split(" in ")[0].split(" ", 1)[1].strip()))
    return found


def diff_of(row) -> dict[str, tuple[str, str] | str]:
    """Each field of an entry's diff: (what it was, what it became), or "changed"."""
    shown = {}
    for item in elements(cells(row)[5], "div"):
        if "diff-row" not in (attrs_of(item).get("class") or ""):
            continue
        [name] = elements(item, "dt")
        [value] = elements(item, "dd")
        if "diff-secret" in attrs_of(item)["class"]:
            shown[text_of(name)] = text_of(value)
            continue
        removed = " ".join(text_of(part) for part in elements(value, "del"))
        added = " ".join(text_of(part) for part in elements(value, "ins"))
        shown[text_of(name)] = (removed, added)
    return shown


def rows_for(response, action: str) -> list:
    return [row for row in entry_rows(response) if text_of(cells(row)[3]) == action]


# --- who may look -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(AUDIT + "?action=domain.create")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/audit/%3Faction%3Ddomain.create"


@pytest.mark.parametrize("person", ["bob", "charlie"])
def test_tenants_get_not_found(client, alice, bob, charlie, person):
    domain_create(actor=alice, name="bob.example", tenant=Tenant.objects.get(owner=bob))
    client.force_login({"bob": bob, "charlie": charlie}[person])
    assert client.get(AUDIT).status_code == 404
    assert client.get(AUDIT + "?group=" + str(uuid.uuid4())).status_code == 404


def test_operators_find_the_page_in_the_navigation(client, alice):
    client.force_login(alice)
    page = client.get("/dashboard/").content.decode()
    assert '<a href="/audit/">Audit</a>' in page
    assert '<a href="/audit/" aria-current="page">Audit</a>' in audit_page(client).text


# --- the diff -----------------------------------------------------------------------------


def test_each_entry_shows_what_each_field_was_and_became(client, alice):
    domain = domain_create(actor=alice, name="voice.example", attributes={"max_contacts": "5"})
    domain_name_add(actor=alice, domain=domain, name="sip.voice.example")
    domain_disable(actor=alice, domain=domain)
    client.force_login(alice)

    response = audit_page(client, "?did=voice.example")

    [disabled] = rows_for(response, "domain.disable")
    assert diff_of(disabled) == {"enabled": ("yes", "no")}
    assert "7 other fields unchanged" in text_of(disabled)
    [alias] = rows_for(response, "domain.alias_add")
    # The list of names: the one added marked, the one kept not.
    assert diff_of(alias) == {"names": ("", "sip.voice.example")}
    assert "voice.example, sip.voice.example" in " ".join(text_of(cells(alias)[5]).split())
    [created] = rows_for(response, "domain.create")
    created_diff = diff_of(created)
    assert created_diff["did"] == ("", "voice.example")
    assert created_diff["attributes.max_contacts[operator]"] == ("", "5")
    assert created_diff["enabled"] == ("", "yes")
    assert list(created_diff)[0] == "did"  # what the entry is about first


def test_the_diff_of_stored_values(db):
    diff = entry_diff(
        {"names": ["a.example", "b.example"], "attributes": {"x": "1"}, "tenant": "t", "n": 1},
        {"names": ["a.example", "c.example"], "attributes": {}, "tenant": None, "n": 1},
    )
    by_field = {change.field: change for change in diff.fields}
    assert list(by_field) == ["attributes.x", "names", "tenant"]
    assert by_field["attributes.x"].kind == Kind.REMOVED
    names = by_field["names"]
    assert [(i.value, i.marked) for i in names.before_items] == [
        ("a.example", False),
        ("b.example", True),
    ]
    assert [(i.value, i.marked) for i in names.after_items] == [
        ("a.example", False),
        ("c.example", True),
    ]
    assert (by_field["tenant"].before, by_field["tenant"].after) == ("t", None)
    assert diff.unchanged == 1
    assert not entry_diff(None, None) and not entry_diff({"a": 1}, {"a": 1})
    assert [c.field for c in entry_diff(None, "note").fields] == ["value"]


SECRETS = {
    "ha1": "0123456789abcdef0123456789abcdef",
    "ha1b": "fedcba9876543210fedcba9876543210",
    "key": "sw_k3y_that_must_never_show",
    "password": "hunter2-clear-password",
}


def test_secrets_show_only_that_they_changed(client, alice, bob):
    domain = domain_create(actor=alice, name="secret.example")
    sam = subscriber_create(actor=alice, domain=domain, username="sam", password="sam-secret-1")
    subscriber_set_password(actor=alice, subscriber=sam, password="sam-secret-2")
    tenant_set_password(
        actor=alice, tenant=Tenant.objects.get(owner=bob), password="a long tenant secret"
    )
    # Whatever an entry holds, written by code that forgot the rule: never its value.
    audit_record(
        actor=alice,
        action="subscriber.import_hashes",
        object_type="subscriber",
        object_repr="sam@secret.example",
        domain=domain,
        before={**SECRETS, "credentials": {"ha1": "aaaabbbbccccdddd"}, "email": "x@y.example"},
        after={"ha1": "1111", "ha1b": "2222", "key": "k2", "credentials": {"ha1": "eeee"}},
    )
    client.force_login(alice)

    response = audit_page(client)
    page = response.content.decode()

    [forged] = rows_for(response, "subscriber.import_hashes")
    shown = diff_of(forged)
    for field in ("ha1", "ha1b", "key", "password", "credentials.ha1"):
        assert shown[field] == "changed", field
    assert shown["email"] == ("x@y.example", "")
    [password] = rows_for(response, "subscriber.password")
    assert diff_of(password) == {"password": "changed"}
    [tenant_password] = rows_for(response, "tenant.set_password")
    assert diff_of(tenant_password) == {"password": "changed"}
    sam.refresh_from_db()
    for secret in [*SECRETS.values(), "aaaabbbbccccdddd", "1111", "2222", "eeee", "k2"]:
        assert secret not in page
    for secret in [sam.ha1, sam.ha1b, "sam-secret-1", "sam-secret-2", "a long tenant secret"]:
        assert secret not in page


def test_names_are_shown_in_unicode_with_the_a_label_on_hover(client, alice):
    domain_create(actor=alice, name="bücher.example")
    client.force_login(alice)

    page = audit_page(client).content.decode()

    assert '<span class="sipname" title="xn--bcher-kva.example">bücher.example</span>' in page
    # A Unicode spelling in a filter finds the name as stored.
    assert listed(client, "?did=BÜCHER.example") == [("domain.create", "bücher.example")]
    assert listed(client, "?object=bücher.example") == [("domain.create", "bücher.example")]


# --- filters ------------------------------------------------------------------------------


@pytest.fixture
def trail(alice, bob):
    """Entries through each channel: code (alice), the API (alice, bob), a command (ops)."""
    base = domain_create(actor=alice, name="base.example")
    carol = subscriber_create(actor=alice, domain=base, username="carol", password="carol-pw-1")
    api = client_for(alice)
    created = api.post("/api/v1/domains/", {"name": "api.example"}, format="json")
    assert created.status_code == 201, created.content
    result = run("domain", "disable", "base.example", "--as", "alice")
    assert result.code == 0, result.err
    # Old entries, of last month.
    AuditEntry.objects.filter(action="subscriber.create").update(
        created_at=timezone.now() - timedelta(days=30)
    )
    return {"carol": carol}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?channel=api", [("domain.create", "api.example")]),
        ("?channel=cli", [("domain.disable", "base.example")]),
        ("?channel=code&object_type=domain", [("domain.create", "base.example")]),
        ("?object_type=subscriber", [("subscriber.create", "carol@base.example")]),
        ("?object=carol@base.example", [("subscriber.create", "carol@base.example")]),
        ("?object=api.example", [("domain.create", "api.example")]),
        ("?did=base.example&action=domain.create", [("domain.create", "base.example")]),
        (
            "?did=base.example",
            [
                ("domain.disable", "base.example"),
                ("domain.create", "base.example"),
                ("subscriber.create", "carol@base.example"),
            ],
        ),
        ("?action=domain.disable", [("domain.disable", "base.example")]),
        ("?actor_name=nobody", []),
        ("?channel=web", []),
    ],
)
def test_each_filter_selects_its_entries(client, alice, trail, query, expected):
    client.force_login(alice)
    assert listed(client, query) == expected


def test_the_actor_and_the_time_range(client, alice, trail):
    client.force_login(alice)
    everything = listed(client)
    assert len(everything) == 5
    # All but the API token made for the test, by nobody signed in: "system".
    assert listed(client, "?actor_name=alice") == [
        entry for entry in everything if entry[0] != "token.create"
    ]
    assert [entry[0] for entry in listed(client, "?actor_name=system")] == ["token.create"]

    week_ago = (timezone.localtime() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    recent = listed(client, f"?since={week_ago}")
    assert ("subscriber.create", "carol@base.example") not in recent and len(recent) == 4
    assert listed(client, f"?until={week_ago}") == [("subscriber.create", "carol@base.example")]
    assert listed(client, f"?since={week_ago}&until={week_ago}") == []


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("?since=yesterday", "since", "Enter a valid date/time."),
        ("?group=not-a-run", "group", "Enter a valid UUID."),
        ("?channel=fax", "channel", "Select a valid choice."),
        ("?actor_name=" + "a" * 151, "actor_name", "at most 150 characters"),
        ("?action=domain%00create", "action", "Null characters are not allowed."),
    ],
)
def test_bad_filters_are_named_next_to_their_field(client, alice, trail, query, field, message):
    client.force_login(alice)
    response = audit_page(client, query)
    tree = page_tree(response)
    [error] = elements(tree, "small", id=f"id_{field}_error")
    assert message in text_of(error)
    [field_input] = [e for e in elements(tree) if attrs_of(e).get("name") == field]
    assert f"id_{field}_error" in attrs_of(field_input)["aria-describedby"]
    assert "Correct the filters to see entries." in response.text
    assert b'class="audit-log"' not in response.content


@pytest.mark.parametrize(
    "query",
    ["?after=garbage", "?before=%00", "?after=W10", "?after=WyJ4IiwgMV0", "?before=" + "A" * 5000],
)
def test_a_cursor_that_is_not_one_starts_at_the_newest(client, alice, trail, query):
    client.force_login(alice)
    assert listed(client, query) == listed(client)


# --- runs ---------------------------------------------------------------------------------


def test_the_entries_of_one_api_request_are_one_run(client, alice):
    domain_create(actor=alice, name="run.example")
    api = client_for(alice)
    patched = api.patch(
        "/api/v1/domains/run.example/", {"enabled": False, "state": "suspect"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    group = patched[REQUEST_ID_HEADER]
    entries = AuditEntry.objects.filter(group=group)
    assert sorted(entries.values_list("action", "channel")) == [
        ("domain.disable", "api"),
        ("domain.state_suspect", "api"),
    ]
    # Another request, another run.
    other = api.patch("/api/v1/domains/run.example/", {"enabled": True}, format="json")
    assert other[REQUEST_ID_HEADER] != group
    assert AuditEntry.objects.get(group=other[REQUEST_ID_HEADER]).action == "domain.enable"
    client.force_login(alice)

    whole = audit_page(client).content.decode()
    assert "API request by alice: 2 changes" in whole
    assert f'href="/audit/?group={group}"' in whole

    run_page = audit_page(client, f"?group={group}")
    assert sorted(listed(client, f"?group={group}")) == [
        ("domain.disable", "run.example"),
        ("domain.state_suspect", "run.example"),
    ]
    assert "One API request" in run_page.text and group in run_page.text
    # The API finds the same run.
    answer = api.get(f"/api/v1/audit/?group={group}").json()["results"]
    assert sorted(e["action"] for e in answer) == ["domain.disable", "domain.state_suspect"]
    for bad in ("nope", ""):
        refused = api.get(f"/api/v1/audit/?group={bad}")
        assert refused.status_code == 400 and "group" in refused.json()["fields"]
    assert len(api.get("/api/v1/audit/?did=").json()["results"]) == 5


def test_the_entries_of_one_web_request_are_one_run(alice):
    made = []

    def view(request):
        domain = domain_create(actor=request.user, name=f"web{len(made)}.example")
        domain_disable(actor=request.user, domain=domain)
        made.append(domain)
        return HttpResponse("done")

    middleware = AuditRequestMiddleware(view)
    request = RequestFactory().post("/somewhere/")
    request.user = alice
    first = middleware(request)
    second = middleware(request)

    for response, domain in zip([first, second], made, strict=True):
        entries = AuditEntry.objects.filter(did=domain.did)
        assert {(e.channel, str(e.group)) for e in entries} == {("web", response["X-Request-Id"])}
        assert entries.count() == 2
    assert first["X-Request-Id"] != second["X-Request-Id"]


def test_the_entries_of_one_command_are_one_run(client, alice):
    result = run(
        "tenant", "add", "Acme", "--owner", "acme", "--password", "a long acme secret"
    )  # fmt: skip
    assert result.code == 0, result.err
    assert run("domain", "add", "acme.example").code == 0

    tenant_entries = AuditEntry.objects.filter(object_type="tenant")
    [group] = set(tenant_entries.values_list("group", flat=True))
    assert group is not None and tenant_entries.count() == 2
    assert set(tenant_entries.values_list("channel", flat=True)) == {"cli"}
    assert AuditEntry.objects.get(action="domain.create").group != group
    client.force_login(alice)

    assert listed(client, f"?group={group}") == [
        ("tenant.set_password", "Acme"),
        ("tenant.create", "Acme"),
    ]
    assert "One command" in audit_page(client, f"?group={group}").text
    assert "Command by " in audit_page(client).text


def test_a_run_inside_another_is_a_run_of_its_own(db):
    assert audit_group() is None
    with audit_channel("web") as request_run:
        assert audit_group() == request_run
        with audit_channel("api", group=audit_group()) as api_run:
            assert api_run == request_run
        with audit_channel("task") as job_run:  # a job run in-process after the request
            assert job_run not in (None, request_run)
        assert audit_group() == request_run
    assert audit_group() is None


def test_a_run_split_across_pages_says_how_many_it_holds(client, alice):
    with audit_channel("task"):
        for i in range(55):
            domain_create(actor=None, name=f"bulk{i}.example")
    client.force_login(alice)

    page = audit_page(client).text
    assert "Job or task by system: 55 changes, 50 of them here" in page


# --- pages --------------------------------------------------------------------------------


def add_entries(count: int, *, at=None, **fields) -> None:
    """Entries as the trail holds them after years: many, several at the same instant."""
    at = at or timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            created_at=at - timedelta(seconds=i // 3),
            actor_name="ops",
            channel="cli",
            action=fields.get("action", "domain.create"),
            object_type="domain",
            object_repr=f"p{i}.example",
            did=f"p{i}.example",
            group=fields.get("group") or uuid.uuid4(),
            after={"did": f"p{i}.example", "enabled": True},
        )
        for i in range(count)
    )


def follow(client, query: str, link: str) -> tuple[list, str | None]:
    """The entries a page lists and the query of its link named ``link``."""
    response = audit_page(client, query)
    tree = page_tree(response)
    links = {text_of(a): attrs_of(a)["href"] for a in elements(tree, "a") if "rel" in attrs_of(a)}
    return listed(client, query), links.get(link)


def test_pages_go_older_and_back_keeping_the_filters(client, alice):
    add_entries(120)
    add_entries(5, action="domain.delete")
    client.force_login(alice)

    first, older = follow(client, "?action=domain.create", "Older")
    assert len(first) == 50 and older.startswith("?action=domain.create&after=")
    second, older_again = follow(client, older, "Older")
    third, none = follow(client, older_again, "Older")
    assert (len(second), len(third), none) == (50, 20, None)
    seen = [name for _action, name in first + second + third]
    # Newest first; three at each instant, the last written first.
    assert seen == [f"p{i + 2 - 2 * (i % 3)}.example" for i in range(120)]

    back, _ = follow(client, older_again, "Newer")
    newer = dict(
        (text_of(a), attrs_of(a)["href"])
        for a in elements(page_tree(audit_page(client, older_again)), "a")
    )["Newer"]
    assert newer.startswith("?action=domain.create&before=")
    assert listed(client, newer) == second
    assert back == listed(client, older_again)


def test_the_page_swaps_its_list_alone_for_htmx(client, alice):
    add_entries(60)
    client.force_login(alice)
    _first, older = follow(client, "", "Older")

    fragment = audit_page(client, older, HX_Request="true", HX_Target="audit-list")
    assert fragment.text.lstrip().startswith('<section id="audit-list"')
    assert "<html" not in fragment.text and len(entry_rows(fragment)) == 10
    assert 'hx-target="#audit-list"' in fragment.text
    restored = audit_page(client, older, HX_Request="true", HX_History_Restore_Request="true")
    assert "<html" in restored.text
    elsewhere = audit_page(client, older, HX_Request="true", HX_Target="main")
    assert "<html" in elsewhere.text


def page_queries(client, query: str = "") -> int:
    with CaptureQueriesContext(connection) as queries:
        audit_page(client, query)
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_entries(client, alice):
    client.force_login(alice)
    add_entries(3)
    few = {query: page_queries(client, query) for query in QUERIES}
    cursor = follow(client, "", "Older")[1]
    assert cursor is None

    run_of_many = uuid.uuid4()
    add_entries(400)
    add_entries(70, group=run_of_many, at=timezone.now() + timedelta(minutes=1))
    _first, cursor = follow(client, "", "Older")
    _second, deeper = follow(client, cursor, "Older")
    assert {query: page_queries(client, query) for query in QUERIES} == few
    assert page_queries(client, deeper) == few[""]
    assert page_queries(client, f"?group={run_of_many}") == few[""]


QUERIES = ["", "?channel=cli&action=domain.create", "?object=p1.example", "?did=p2.example"]


# The index each filter's page is read from.
INDEXES = {
    "": "audit_time_idx",
    "actor_name": "audit_actor_name_time_idx",
    "channel": "audit_channel_time_idx",
    "object_type": "audit_object_type_time_idx",
    "object": "audit_object_time_idx",
    "did": "audit_did_time_idx",
    "action": "audit_action_time_idx",
    "group": "audit_group_time_idx",
    "since": "audit_time_idx",
    "until": "audit_time_idx",
}
FILTER_VALUES = {
    "actor_name": "ops",
    "channel": "cli",
    "object_type": "domain",
    "object": "p1.example",
    "did": "p1.example",
    "action": "domain.create",
    "group": str(uuid.uuid4()),
    "since": "2026-01-01T00:00",
    "until": "2036-01-01T00:00",
}


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(INDEXES))
def test_every_filter_pages_from_an_index_of_its_own(rf, alice, name):
    """A page beyond the first, for each filter, is one range of that filter's index, read
    in the list's order: no sort, no scan of what comes before, at any depth."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    from audit.selectors import audit_entries_visible_to
    from portal.forms.audit import AuditLogFilters
    from portal.paging import encode_cursor, keyset_page

    add_entries(10)
    ordering = ("-created_at", "-id")
    params = {name: FILTER_VALUES[name]} if name else {}
    after = encode_cursor(AuditEntry.objects.order_by(*ordering)[3], ordering)
    request = rf.get(AUDIT, {**params, "after": after})
    filters = AuditLogFilters(request.GET, queryset=audit_entries_visible_to(alice))
    assert filters.is_valid(), filters.errors
    with CaptureQueriesContext(connection) as page_query:
        keyset_page(filters.qs, request, ordering=ordering)
    [sql] = [query["sql"] for query in page_query.captured_queries]
    with connection.cursor() as cursor:
        # A few rows here: whatever reads them is cheap. Without the cheap ways a table of
        # millions does not have (reading it all, sorting what matches), the plan shows the
        # index path that pages it.
        for path in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{path} = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan Backward using {INDEXES[name]} on audit_auditentry" in plan, plan
    # The cursor is where the range starts, not a filter on everything newer.
    assert re.search(r"Index Cond: .*created_at <= ", plan), plan
    assert "Sort" not in plan, plan


@pytest.mark.postgres
def test_postgresql_knows_which_filter_values_occur_together(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statistics")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxkind, array(SELECT attname FROM pg_attribute WHERE attrelid = stxrelid"
            " AND attnum = ANY(stxkeys) ORDER BY attname) FROM pg_statistic_ext"
            " WHERE stxname = 'audit_filter_stats'"
        )
        [(kinds, columns)] = cursor.fetchall()
    assert set(kinds) >= {"m", "f"}  # most common combinations, functional dependencies
    assert columns == ["action", "actor_name", "channel", "object_type"]


def test_the_shared_partials(rf, alice):
    from django.contrib import messages
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.template.loader import render_to_string

    request = rf.get("/x/", {"state": "active", "after": "old"})
    request.user = alice
    request.session = {}
    request._messages = FallbackStorage(request)
    messages.success(request, "example.com is disabled; proxy edge does not serve it yet.")
    messages.error(request, "nothing was written")
    page = render_to_string(
        "portal/confirm.html",
        {
            "title": "Delete example.com?",
            "consequences": ["3 subscribers", "1 user alias"],
            "confirm_label": "Delete example.com",
            "danger": True,
            "cancel_url": "/domains/",
        },
        request=request,
    )
    tree = page_tree(type("R", (), {"content": page.encode()}))
    [confirm] = elements(tree, "article", class_="confirm")
    [form] = elements(confirm, "form", method="post")
    assert 'name="csrfmiddlewaretoken"' in str(form)
    [button] = elements(form, "button", type="submit")
    assert text_of(button) == "Delete example.com" and attrs_of(button)["class"] == "danger"
    assert [text_of(li) for li in elements(tree, "ul", class_="consequences")][0].split() == [
        "3", "subscribers", "1", "user", "alias"
    ]  # fmt: skip
    [heading] = elements(tree, "h1")
    assert text_of(heading) == "Delete example.com?"
    [done] = elements(tree, "p", class_="message message-success")
    assert attrs_of(done)["role"] == "status" and text_of(done).startswith("Done:")
    [failed] = elements(tree, "p", class_="message message-error")
    assert attrs_of(failed)["role"] == "alert" and text_of(failed).startswith("Error:")

    from portal.paging import Page

    pager = render_to_string(
        "portal/_pager.html",
        {"page": Page(items=[1], has_next=True, next_query="?state=active&after=abc")},
    )
    assert 'href="?state=active&amp;after=abc" rel="next"' in pager and "Previous" not in pager
    assert "hx-get" not in pager


def test_the_sipname_filter():
    from django.template import Context, Template

    def shown(value) -> str:
        return Template("{% load names %}{{ value|host }}").render(Context({"value": value}))

    assert shown("xn--bcher-kva.example") == (
        '<span class="sipname" title="xn--bcher-kva.example">bücher.example</span>'
    )
    assert shown("carol@xn--bcher-kva.example") == (
        '<span class="sipname" title="carol@xn--bcher-kva.example">carol@bücher.example</span>'
    )
    assert shown("example.com") == "example.com"
    assert shown("[2001:db8::1]") == "[2001:db8::1]"
    assert shown("xn--zz.example") == "xn--zz.example"  # not an A-label: as it is
    assert shown(None) == ""
    assert shown("<b>Acme</b> & co") == "&lt;b&gt;Acme&lt;/b&gt; &amp; co"
