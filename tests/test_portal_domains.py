"""The operators' domain pages: the list (search, filters, sorting, keyset pages in a fixed
number of queries), bulk actions confirmed against the filter, a new domain, and one
domain's page with every change to its names, attributes, tenant and state, its
deletion, and its DNS panel; what a tenant and an anonymous visitor get."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from domains.models import (
    AttributeSource,
    Domain,
    DomainAttribute,
    DomainCheck,
    DomainName,
    DomainOrigin,
    DomainState,
    DomainTransition,
    Tenant,
)
from domains.services import domain_attribute_set, domain_create
from portal import domain_selectors
from proxies.models import Proxy, ProxyTransport
from proxies.services import proxy_create
from subscribers.services import subscriber_create
from tests.portal_helpers import SIGN_IN, attrs_of, elements, page_tree, text_of


@pytest.fixture
def tenant(bob) -> Tenant:
    return Tenant.objects.get(owner=bob)


@pytest.fixture
def edge(alice, tmp_path) -> Proxy:
    """A proxy whose FIFO nobody reads: every change waits for it."""
    return proxy_create(
        actor=alice, name="edge-1", transport=ProxyTransport.FIFO, address=str(tmp_path / "k.fifo")
    )


@pytest.fixture
def example(alice, tenant) -> Domain:
    domain = domain_create(
        actor=alice,
        name="straße.example",
        aliases=["sip.straße.example", "192.0.2.7"],
        tenant=tenant,
        attributes={"max_contacts": "3"},
    )
    subscriber_create(actor=alice, domain=domain, username="sam", password="sam-secret-1")
    return domain


@pytest.fixture
def operator(client, alice) -> Client:
    client.force_login(alice)
    return client


def page_text(response) -> str:
    return " ".join(response.content.decode().replace("\xa0", " ").split())


def listed(response) -> list[str]:
    """The dids of the rows of a domain list page, in order."""
    return [attrs_of(box)["value"] for box in elements(page_tree(response), "input", name="did")]


def field_errors(response, field_id: str) -> str:
    """The error text right after the field with this id (tied to it by aria-describedby)."""
    found = list(elements(page_tree(response), "small", id=f"{field_id}_error"))
    return " ".join(text_of(element) for element in found)


def refusal(response, field_id: str) -> str:
    """A service's refusal: next to the field of the argument it names, or above the form
    when it names none."""
    alerts = elements(page_tree(response), "div", class_="form-errors")
    return field_errors(response, field_id) or " ".join(text_of(alert) for alert in alerts)


# --- who may see what -------------------------------------------------------------------------

PAGES = [
    "/domains/",
    "/domains/?search=x&state=active",
    "/domains/new/",
    "/domain/xn--strae-oqa.example/",
    "/domain/xn--strae-oqa.example/delete/",
]
ACTIONS = [
    "/domains/",
    "/domain/xn--strae-oqa.example/enable/",
    "/domain/xn--strae-oqa.example/disable/",
    "/domain/xn--strae-oqa.example/names/",
    "/domain/xn--strae-oqa.example/names/canonical/",
    "/domain/xn--strae-oqa.example/names/remove/",
    "/domain/xn--strae-oqa.example/names/exempt/",
    "/domain/xn--strae-oqa.example/names/restore/",
    "/domain/xn--strae-oqa.example/attributes/",
    "/domain/xn--strae-oqa.example/attributes/unset/",
    "/domain/xn--strae-oqa.example/tenant/",
    "/domain/xn--strae-oqa.example/verify/",
    "/domain/xn--strae-oqa.example/delete/",
]


@pytest.mark.parametrize("url", PAGES + ACTIONS)
def test_anonymous_visitors_are_sent_to_sign_in(client, example, url):
    answer = client.post(url) if url in ACTIONS else client.get(url)
    assert answer.status_code == 302 and answer.url.startswith(f"{SIGN_IN}?next=")


@pytest.mark.parametrize("url", PAGES + ACTIONS)
@pytest.mark.parametrize("person", ["bob", "charlie"])
def test_tenants_get_404_and_change_nothing(client, bob, charlie, example, person, url):
    client.force_login(bob if person == "bob" else charlie)
    before = AuditEntry.objects.count()
    answer = client.post(url, {"name": "x.example"}) if url in ACTIONS else client.get(url)
    assert answer.status_code == 404
    assert AuditEntry.objects.count() == before and Domain.objects.get(pk=example.pk).enabled


def test_a_domain_that_is_not_there_is_404(operator, example):
    assert operator.get("/domain/nothing.example/").status_code == 404
    assert operator.post("/domain/nothing.example/disable/").status_code == 404
    assert operator.get("/domain/xn--strae-oqa.example/jobs/999/").status_code == 404


def test_the_navigation_leads_operators_to_the_domains(operator, example):
    nav = operator.get("/dashboard/").text
    assert nav.index('href="/dashboard/"') < nav.index('href="/domains/"')
    assert 'href="/domains/" aria-current="page"' in operator.get("/domains/").text
    assert 'href="/domains/" aria-current="page"' in operator.get(f"/domain/{example.did}/").text


def test_every_form_has_a_csrf_token_and_needs_it(operator, example):
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = operator.cookies
    actions = set()
    for url in ["/domains/", "/domains/new/", f"/domain/{example.did}/", PAGES[-1]]:
        for form in elements(page_tree(operator.get(url)), "form"):
            if (attrs_of(form).get("method") or "get").lower() == "post":
                assert len(list(elements(form, "input", name="csrfmiddlewaretoken"))) == 1, url
                actions.add(attrs_of(form)["action"])
    assert {"/domains/", "/domains/new/", f"/domain/{example.did}/verify/"} <= actions
    for action in actions:
        assert strict.post(action, {}).status_code == 403, action


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_each_domain_at_a_glance(operator, alice, example, edge):
    DomainCheck.objects.create(domain=example, verdict="foreign", outcome="negative")
    domain_create(actor=alice, name="off.example", enabled=False, state=DomainState.SUSPECT)
    Proxy.objects.filter(pk=edge.pk).update(applied_changed_at=example.updated_at)
    page = operator.get("/domains/")
    text = page_text(page)

    assert listed(page) == ["off.example", "xn--strae-oqa.example"]
    assert '<span class="sipname" title="xn--strae-oqa.example">straße.example</span>' in text
    row = text[text.index("straße.example</span>") :]
    assert "bob-corp" in row and "points elsewhere" in row and "badge-proxy-live" in row
    assert '<td class="number">2</td>' in row  # other names
    off = text[text.index(">off.example<") : text.index("straße.example</span>")]
    assert "<strong>no</strong>" in off and "suspect" in off and "never checked" in off
    assert "pending</span> <small>edge-1" in off  # changed after edge-1 loaded


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("search=sip.xn--str", ["xn--strae-oqa.example"]),  # part of an alias
        ("search=sip.straße", ["xn--strae-oqa.example"]),  # in Unicode
        ("search=192.0.2.7", ["xn--strae-oqa.example"]),  # an IP literal
        ("search=[2001:DB8::9]", ["other-id"]),  # another spelling of one
        ("search=xn--strae", ["xn--strae-oqa.example"]),  # the did
        ("search=straße+other", []),  # every word must match
        ("search=other-id", ["other-id"]),
        ("state=pending", ["other-id"]),
        ("origin=tenant", ["other-id"]),
        ("enabled=false", ["other-id"]),
        ("tenant=bob-corp", ["xn--strae-oqa.example"]),
        ("verdict=ours", ["xn--strae-oqa.example"]),
        ("verdict=never", ["op.example", "other-id"]),
        ("pending=edge-1", ["op.example", "other-id"]),
        ("pending=any", ["op.example", "other-id"]),
        ("name=SIP.Straße.example", ["xn--strae-oqa.example"]),
        ("", ["op.example", "other-id", "xn--strae-oqa.example"]),  # by canonical name
        ("ordering=-did", ["xn--strae-oqa.example", "other-id", "op.example"]),
        ("ordering=-created_at", ["other-id", "op.example", "xn--strae-oqa.example"]),
        ("ordering=state", ["xn--strae-oqa.example", "op.example", "other-id"]),
        ("ordering=bogus", ["op.example", "other-id", "xn--strae-oqa.example"]),
    ],
)
def test_search_filters_and_sorting(operator, alice, example, edge, query, found):
    DomainCheck.objects.create(domain=example, verdict="ours", outcome="positive")
    Proxy.objects.filter(pk=edge.pk).update(applied_changed_at=Domain.objects.get().updated_at)
    domain_create(actor=alice, name="op.example")
    domain_create(
        actor=alice,
        name="v6.example",
        aliases=["[2001:db8::9]"],
        did="other-id",
        enabled=False,
        state=DomainState.PENDING,
        origin=DomainOrigin.TENANT,
    )
    assert listed(operator.get(f"/domains/?{query}")) == found


def test_the_api_reads_the_same_search(operator, alice, example):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(alice)
    for query in ["search=192.0.2.7", "search=sip.straße", "name=SIP.Straße.example"]:
        answer = api.get(f"/api/v1/domains/?{query}").json()
        assert [d["did"] for d in answer["results"]] == [example.did], query


def test_a_bad_filter_is_named_next_to_its_field(operator, example):
    page = operator.get("/domains/?state=bogus&verdict=nope&enabled=perhaps")
    assert page.status_code == 200
    assert "Select a valid choice" in field_errors(page, "id_state")
    assert "Select a valid choice" in field_errors(page, "id_verdict")
    assert "expected true or false" in field_errors(page, "id_enabled")


def test_htmx_gets_the_results_alone(operator, example):
    fragment = operator.get("/domains/?search=sip", HTTP_HX_REQUEST="true").text
    assert fragment.lstrip().startswith('<div id="domain-results"') and "<html" not in fragment
    assert "straße.example" in fragment
    assert "<html" in operator.get("/domains/?search=sip").text


def test_pages_follow_each_other_by_keyset(operator, alice, monkeypatch):
    monkeypatch.setattr(domain_selectors, "PAGE_SIZE", 3)
    for i in range(8):
        domain_create(actor=alice, name=f"d{i}.example")
    dids = [f"d{i}.example" for i in range(8)]

    first = operator.get("/domains/?state=active")
    assert listed(first) == dids[:3]
    links = {attrs_of(a).get("rel"): attrs_of(a)["href"] for a in elements(page_tree(first), "a")}
    assert "prev" not in links and links["next"].startswith("?state=active&after=")
    second = operator.get("/domains/" + links["next"])
    assert listed(second) == dids[3:6]
    nav = {text_of(a): attrs_of(a)["href"] for a in elements(page_tree(second), "a")}
    third = operator.get("/domains/" + nav["Next"])
    assert listed(third) == dids[6:]
    assert "Next" not in [text_of(a) for a in elements(page_tree(third), "a")]
    back = {text_of(a): attrs_of(a)["href"] for a in elements(page_tree(third), "a")}
    assert listed(operator.get("/domains/" + back["Previous"])) == dids[3:6]
    assert listed(operator.get("/domains/" + back["First"])) == dids[:3]
    # A row added before the cursor does not shift the next page.
    domain_create(actor=alice, name="a0.example")
    assert listed(operator.get("/domains/" + nav["Next"])) == dids[6:]
    # A cursor the list never gave: its first page, not an error.
    for bad in ["after=zzz", "before=WzFd", "after=W251bGwsIDFd", "after=" + "A" * 500]:
        assert listed(operator.get(f"/domains/?{bad}")) == ["a0.example", *dids[:2]], bad


def count_queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url)
    assert answer.status_code == 200
    return len(queries), [query["sql"] for query in queries]


def add_domains(alice, tenant, start: int, count: int) -> None:
    for i in range(start, start + count):
        domain = domain_create(
            actor=alice,
            name=f"n{i:03}.example",
            aliases=[f"sip.n{i:03}.example"],
            tenant=tenant if i % 2 else None,
        )
        DomainCheck.objects.create(domain=domain, verdict="ours", outcome="positive")


@pytest.mark.parametrize(
    "query", ["", "?search=sip&ordering=-created_at", "?verdict=ours&pending=any&tenant=bob-corp"]
)
def test_a_page_of_the_list_costs_the_same_queries_at_5_and_50_rows(
    operator, alice, tenant, edge, query
):
    add_domains(alice, tenant, 0, 5)
    few, _sql = count_queries(operator, f"/domains/{query}")
    add_domains(alice, tenant, 5, 45)
    many, sql = count_queries(operator, f"/domains/{query}")
    assert many == few
    # No COUNT of the table: a page asks for one row more than it shows.
    assert not any(statement.upper().startswith("SELECT COUNT(") for statement in sql)
    add_domains(alice, tenant, 50, 10)
    assert count_queries(operator, f"/domains/{query}")[0] == few


def test_the_domain_page_costs_the_same_queries_however_much_it_holds(
    operator, alice, tenant, edge, example
):
    few, _sql = count_queries(operator, f"/domain/{example.did}/")
    for i in range(10):
        subscriber_create(actor=alice, domain=example, username=f"u{i}", password="long-secret-1")
        domain_attribute_set(actor=alice, domain=example, name=f"extra{i}", value="1")
        DomainTransition.objects.create(
            domain=example, from_state="active", to_state="suspect", verdict="absent"
        )
    DomainName.objects.bulk_create(
        DomainName(domain=example, name=f"a{i}.straße.example") for i in range(10)
    )
    assert count_queries(operator, f"/domain/{example.did}/")[0] == few


# --- a new domain ----------------------------------------------------------------------------


def test_an_operator_adds_a_domain(operator, tenant, edge):
    answer = operator.post(
        "/domains/new/",
        {
            "name": "Neu.Example",
            "aliases": "sip.neu.example\n192.0.2.30",
            "tenant": tenant.pk,
            "enabled": "on",
        },
        follow=True,
    )
    domain = Domain.objects.get(did="neu.example")
    assert answer.redirect_chain[-1][0] == "/domain/neu.example/"
    assert sorted(domain.names.values_list("name", flat=True)) == [
        "192.0.2.30",
        "neu.example",
        "sip.neu.example",
    ]
    assert domain.tenant == tenant and domain.enabled
    text = page_text(answer)
    assert "Domain neu.example created; not live yet on proxy edge-1" in text
    assert AuditEntry.objects.filter(action="domain.create", channel="web").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "id_name", "This field is required."),
        ({"name": "bad name!"}, "refused:id_name", "not a valid domain name"),
        ({"name": "x.example", "aliases": "x.example"}, None, "given twice"),
        ({"name": "taken.example"}, None, "already belongs to domain taken.example"),
        ({"name": "n.example", "did": "Bad Did"}, None, "Bad Did"),
        ({"name": "n.example", "tenant": "999"}, "id_tenant", "Select a valid choice"),
        ({"name": "n" * 300}, "id_name", "at most 255 characters"),
    ],
)
def test_a_bad_new_domain_is_refused_next_to_its_field(operator, alice, data, field, message):
    domain_create(actor=alice, name="taken.example")
    answer = operator.post("/domains/new/", data)
    assert answer.status_code == 400
    if field and field.startswith("refused:"):
        shown = refusal(answer, field.removeprefix("refused:"))
    else:
        shown = field_errors(answer, field) if field else page_text(answer)
    assert message in shown, shown
    # A service's message lands on a field of that name, or above the form.
    assert Domain.objects.count() == 1


# --- one domain --------------------------------------------------------------------------------


def test_the_domain_page_shows_names_attributes_tenant_and_subscribers(operator, example, edge):
    DomainAttribute.objects.create(
        domain=example, name="max_contacts", type=0, value="9", source=AttributeSource.DNS
    )
    text = page_text(operator.get(f"/domain/{example.did}/"))
    assert (
        '<h1><span class="sipname" title="xn--strae-oqa.example">straße.example</span></h1>' in text
    )
    assert "sip.straße.example" in text and "192.0.2.7" in text and "IPv4 literal" in text
    assert "<code>max_contacts</code>" in text and "no, the operator's wins" in text
    assert "Belongs to <strong>bob-corp</strong>" in text
    assert "<strong>1</strong> subscriber in this domain" in text
    assert 'href="/subscribers/?domain=xn--strae-oqa.example"' in text
    assert "not loaded yet by edge-1" in text
    assert "sam-secret-1" not in text and "ha1" not in text


def test_disable_and_enable_say_which_proxies_wait(operator, example, edge):
    answer = operator.post(f"/domain/{example.did}/disable/", follow=True)
    assert not Domain.objects.get(pk=example.pk).enabled
    assert "Domain xn--strae-oqa.example disabled; not live yet on proxy edge-1" in page_text(
        answer
    )
    Proxy.objects.update(enabled=False)
    answer = operator.post(f"/domain/{example.did}/enable/", follow=True)
    assert Domain.objects.get(pk=example.pk).enabled
    assert "Domain xn--strae-oqa.example enabled." in page_text(answer)
    assert operator.get(f"/domain/{example.did}/enable/").status_code == 405
    actions = AuditEntry.objects.filter(channel="web").values_list("action", flat=True)
    assert list(actions.order_by("id")) == ["domain.disable", "domain.enable"]


def test_names_are_added_made_canonical_and_removed(operator, example):
    url = f"/domain/{example.did}"
    answer = operator.post(f"{url}/names/", {"alias-name": "[2001:DB8::1]"}, follow=True)
    assert "[2001:db8::1] is now a name of xn--strae-oqa.example" in page_text(answer)

    answer = operator.post(f"{url}/names/canonical/", {"name": "sip.xn--strae-oqa.example"})
    assert answer.status_code == 302
    canonical = DomainName.objects.get(domain=example, is_canonical=True)
    assert canonical.name == "sip.xn--strae-oqa.example"
    assert Domain.objects.get(pk=example.pk).did == "xn--strae-oqa.example"  # the did stays

    answer = operator.post(
        f"{url}/names/remove/", {"name": "sip.xn--strae-oqa.example"}, follow=True
    )
    assert "became its canonical name" in page_text(answer)
    assert DomainName.objects.get(domain=example, is_canonical=True).name == "xn--strae-oqa.example"


@pytest.mark.parametrize(
    ("path", "data", "where", "message"),
    [
        ("names/", {"alias-name": "no such!"}, "id_alias-name", "not a valid domain name"),
        ("names/", {"alias-name": ""}, "id_alias-name", "This field is required."),
        ("names/", {"alias-name": "sip.straße.example"}, None, "already a name of this domain"),
        ("names/canonical/", {"name": "192.0.2.7"}, None, "cannot be the canonical name"),
        ("names/canonical/", {"name": "other.example"}, None, "is not a name of domain"),
        ("names/remove/", {"name": "other.example"}, None, "is not a name of domain"),
        ("attributes/", {"attr-name": "max_contacts", "attr-value": "lots"}, "id_attr-value", ""),
        ("attributes/", {"attr-name": "9bad", "attr-value": "1"}, "id_attr-name", "a letter"),
        ("attributes/", {"attr-name": "did", "attr-value": "x"}, "id_attr-name", "reserved"),
        ("attributes/", {"attr-name": "x", "attr-value": "é"}, "id_attr-value", "ASCII"),
        ("attributes/unset/", {"name": "nothing"}, None, "has no operator attribute"),
        ("tenant/", {"tenant": "999"}, "id_tenant", "Select a valid choice"),
    ],
)
def test_bad_changes_are_refused_next_to_their_field(operator, example, path, data, where, message):
    before = AuditEntry.objects.count()
    names = sorted(DomainName.objects.values_list("name", "is_canonical"))
    answer = operator.post(f"/domain/{example.did}/{path}", data)
    assert answer.status_code == 400
    shown = field_errors(answer, where) if where else page_text(answer)
    assert shown and message in shown, shown
    assert AuditEntry.objects.count() == before
    assert sorted(DomainName.objects.values_list("name", "is_canonical")) == names
    assert DomainAttribute.objects.get(domain=example).value == "3"


def test_the_last_name_cannot_be_removed(operator, alice):
    lonely = domain_create(actor=alice, name="lonely.example")
    answer = operator.post(f"/domain/{lonely.did}/names/remove/", {"name": "lonely.example"})
    assert answer.status_code == 400 and "delete the domain instead" in page_text(answer)
    assert lonely.names.count() == 1


def test_attributes_are_set_and_unset(operator, example, edge):
    url = f"/domain/{example.did}"
    answer = operator.post(
        f"{url}/attributes/",
        {"attr-name": "custom_flag", "attr-value": "7", "attr-as_int": "integer"},
        follow=True,
    )
    attribute = DomainAttribute.objects.get(domain=example, name="custom_flag")
    assert (attribute.type, attribute.value, attribute.source) == (0, "7", "operator")
    assert "Attribute custom_flag=7 set on xn--strae-oqa.example; not live yet" in page_text(answer)

    answer = operator.post(f"{url}/attributes/unset/", {"name": "custom_flag"}, follow=True)
    assert not DomainAttribute.objects.filter(name="custom_flag").exists()
    assert "Attribute custom_flag unset" in page_text(answer)


def test_a_realm_that_strands_passwords_needs_consent(operator, example):
    url = f"/domain/{example.did}/attributes/"
    realm = "sip.xn--strae-oqa.example"
    refused = operator.post(url, {"attr-name": "realm", "attr-value": realm})
    assert refused.status_code == 400 and "must set new passwords" in page_text(refused)
    assert not DomainAttribute.objects.filter(name="realm").exists()
    done = operator.post(
        url,
        {
            "attr-name": "realm",
            "attr-value": realm,
            "attr-accept_password_reset": "on",
        },
    )
    assert done.status_code == 302
    assert DomainAttribute.objects.get(name="realm").value == "sip.xn--strae-oqa.example"


def test_the_tenant_changes(operator, example, charlie):
    other = Tenant.objects.get(owner=charlie)
    answer = operator.post(f"/domain/{example.did}/tenant/", {"tenant": other.pk}, follow=True)
    assert Domain.objects.get(pk=example.pk).tenant == other
    assert "now belongs to tenant charlie-corp." in page_text(answer)
    operator.post(f"/domain/{example.did}/tenant/", {"tenant": ""})
    assert Domain.objects.get(pk=example.pk).tenant is None


def test_deleting_names_what_goes_and_needs_consent_for_subscribers(operator, example, edge):
    url = f"/domain/{example.did}/delete/"
    confirm = page_text(operator.get(url))
    assert "3 names:" in confirm and "1 attribute" in confirm and "1 subscriber," in confirm
    assert 'name="force"' in confirm

    refused = operator.post(url, {})
    assert refused.status_code == 400
    assert "still has 1 subscriber(s)" in field_errors(refused, "id_force")
    assert Domain.objects.filter(pk=example.pk).exists()

    answer = operator.post(url, {"force": "on"}, follow=True)
    assert not Domain.objects.filter(pk=example.pk).exists()
    assert answer.redirect_chain[-1][0] == "/domains/"
    text = page_text(answer)
    assert (
        "Domain xn--strae-oqa.example deleted with its 3 name(s), 1 attribute(s), 1 subscriber(s)"
        in text
    )
    assert "not live yet on proxy edge-1" in text


def test_a_domain_without_subscribers_is_deleted_without_the_checkbox(operator, alice):
    plain = domain_create(actor=alice, name="plain.example")
    assert 'name="force"' not in operator.get(f"/domain/{plain.did}/delete/").text
    assert operator.post(f"/domain/{plain.did}/delete/").status_code == 302
    assert not Domain.objects.filter(did="plain.example").exists()


# --- bulk actions ----------------------------------------------------------------------------


def test_selected_domains_are_disabled_after_a_confirmation(operator, alice, edge):
    for name in ["a.example", "b.example", "c.example"]:
        domain_create(actor=alice, name=name)
    query = "search=example"
    review = operator.post(
        "/domains/",
        {
            "action": "disable",
            "scope": "selected",
            "did": ["a.example", "b.example"],
            "query": query,
        },
    )
    assert review.status_code == 200
    text = page_text(review)
    assert "Disable 2 domains?" in text and "a.example" in text and "c.example" not in text
    assert Domain.objects.filter(enabled=False).count() == 0  # nothing yet
    confirmed = attrs_of(next(elements(page_tree(review), "input", name="confirmed")))["value"]

    done = operator.post(
        "/domains/",
        {
            "action": "disable",
            "scope": "selected",
            "did": ["a.example", "b.example"],
            "query": query,
            "confirmed": confirmed,
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == f"/domains/?{query}"
    assert sorted(Domain.objects.filter(enabled=False).values_list("did", flat=True)) == [
        "a.example",
        "b.example",
    ]
    assert "2 domain(s) disabled (0 already were); not live yet on proxy edge-1" in page_text(done)
    assert AuditEntry.objects.filter(action="domain.disable", channel="web").count() == 2


def test_every_matching_domain_is_rechecked_on_confirmation(operator, alice):
    for name in ["s1.example", "s2.example", "keep.example"]:
        domain_create(
            actor=alice, name=name, state=DomainState.SUSPECT if name[0] == "s" else "active"
        )
    data = {"action": "disable", "scope": "every", "query": "state=suspect"}
    review = operator.post("/domains/", data)
    assert "Disable 2 domains?" in page_text(review)
    confirmed = attrs_of(next(elements(page_tree(review), "input", name="confirmed")))["value"]

    # Meanwhile another domain turns suspect: the confirmation was not for it.
    Domain.objects.filter(did="keep.example").update(state=DomainState.SUSPECT)
    again = operator.post("/domains/", {**data, "confirmed": confirmed})
    assert again.status_code == 400
    text = page_text(again)
    assert "The filter finds other domains now" in text and "Disable 3 domains?" in text
    assert not Domain.objects.filter(enabled=False).exists()

    confirmed = attrs_of(next(elements(page_tree(again), "input", name="confirmed")))["value"]
    assert operator.post("/domains/", {**data, "confirmed": confirmed}).status_code == 302
    assert Domain.objects.filter(enabled=False).count() == 3


def test_bulk_delete_names_what_goes_and_needs_consent(operator, alice, example):
    domain_create(actor=alice, name="other.example")
    data = {"action": "delete", "scope": "every", "query": ""}
    review = operator.post("/domains/", data)
    text = page_text(review)
    assert "Delete 2 domains?" in text and "4 names" in text and "1 subscriber," in text
    confirmed = attrs_of(next(elements(page_tree(review), "input", name="confirmed")))["value"]

    refused = operator.post("/domains/", {**data, "confirmed": confirmed})
    assert refused.status_code == 400
    assert "still has 1 subscriber(s)" in field_errors(refused, "id_force")
    assert Domain.objects.count() == 2

    operator.post("/domains/", {**data, "confirmed": confirmed, "force": "on"})
    assert Domain.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        ({"action": "disable", "scope": "selected"}, "bulk-scope", "Tick the domains"),
        ({"action": "", "scope": "selected", "did": ["a.example"]}, "id_action", "required"),
        ({"action": "explode", "scope": "every"}, "id_action", "Select a valid choice"),
        ({"action": "enable", "scope": "all"}, "bulk-scope", "Select a valid choice"),
    ],
)
def test_a_bad_bulk_request_is_refused_next_to_its_field(operator, alice, data, where, message):
    domain_create(actor=alice, name="a.example")
    answer = operator.post("/domains/", {"query": "search=a", **data})
    assert answer.status_code == 400
    errors = list(
        elements(
            page_tree(answer), "small", id=where if where == "bulk-scope" else f"{where}_error"
        )
    )
    if where == "bulk-scope":
        errors = list(elements(page_tree(answer), "small", id="bulk-scope-error"))
    assert message in " ".join(text_of(e) for e in errors)
    assert listed(answer) == ["a.example"]  # the list again, filtered as it was
    assert Domain.objects.get().enabled


def test_a_bulk_action_takes_a_bounded_number_of_domains(operator, alice, monkeypatch):
    from domains import bulk_actions

    monkeypatch.setattr(bulk_actions, "BULK_LIMIT", 2)
    monkeypatch.setattr(domain_selectors, "BULK_LIMIT", 2)
    for i in range(3):
        domain_create(actor=alice, name=f"b{i}.example")
    answer = operator.post("/domains/", {"action": "disable", "scope": "every", "query": ""})
    assert answer.status_code == 400
    assert "at most 2 at once; narrow the selection" in page_text(answer)
    assert not Domain.objects.filter(enabled=False).exists()
