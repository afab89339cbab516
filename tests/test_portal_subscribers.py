"""The operators' subscriber pages: the list and search across domains in pages of a fixed
number of queries, adding a subscriber, its password, enabling and disabling it, its valid
From identities and user aliases, deleting it, and its registrations as the proxies report
them. Bad input is refused next to its field and writes nothing; HA1 hashes never show."""

import re
import socket
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from domains.models import DomainState
from domains.services import domain_attribute_set, domain_create, domain_disable
from proxies.models import ProxyTransport
from proxies.services import proxy_create
from subscribers import digest, selectors
from subscribers.models import Subscriber, UserAlias, ValidFrom
from subscribers.services import subscriber_create, user_alias_add, valid_from_add
from tests.portal_helpers import SIGN_IN, attrs_of, elements, flash_messages, page_tree, text_of
from tests.test_portal_access import post_forms, refused_without_token

PASSWORD = "alice-secret-1"


@pytest.fixture
def domain(alice):
    return domain_create(actor=alice, name="example.com", aliases=["sip.example.com"])


@pytest.fixture
def other(alice):
    return domain_create(actor=alice, name="other.example.org")


@pytest.fixture
def sub(alice, domain) -> Subscriber:
    return subscriber_create(actor=alice, domain=domain, username="alice", password=PASSWORD)


@pytest.fixture
def operator(client, alice):
    client.force_login(alice)
    return client


def field_errors(response, field: str) -> str:
    """The messages shown right after the input named ``field``, tied to it."""
    tree = page_tree(response)
    # The form's own input (the remove buttons' hidden inputs have no id).
    [control] = [
        element
        for tag in ("input", "select", "textarea")
        for element in elements(tree, tag, name=field)
        if attrs_of(element).get("id")
    ]
    errors = list(elements(tree, "small", id=f"{attrs_of(control)['id']}_error"))
    if not errors:
        return ""
    assert attrs_of(control).get("aria-invalid") == "true"
    assert f"{attrs_of(control)['id']}_error" in (attrs_of(control).get("aria-describedby") or "")
    return text_of(errors[0])


def messages_of(response) -> list[str]:
    return flash_messages(response)


def listed(response) -> list[str]:
    """The subscribers a list page shows, as user@domain."""
    tree = page_tree(response)
    return [text_of(th) for th in elements(tree, "th", scope="row", class_="wrap")]


def no_secret_in(response, *subscribers: Subscriber) -> None:
    for subscriber in subscribers:
        subscriber.refresh_from_db()
        assert subscriber.ha1 not in response.text and subscriber.ha1b not in response.text


# --- the list and the search ----------------------------------------------------------------


def test_the_list_shows_the_subscribers_of_every_domain(operator, sub, other, alice):
    subscriber_create(actor=alice, domain=other, username="zed", password=PASSWORD, enabled=False)
    page = operator.get("/subscribers/")
    assert page.status_code == 200
    assert listed(page) == ["alice@example.com", "zed@other.example.org"]
    assert "disabled" in page.text
    assert 'href="/subscribers/" aria-current="page">Subscribers</a>' in page.text
    no_secret_in(page, sub)


@pytest.mark.parametrize(
    "query, found",
    [
        ("q=al", ["alice@example.com", "alan@other.example.org"]),
        ("q=ali", ["alice@example.com"]),
        ("q=alice@sip.example.com", ["alice@example.com"]),  # the domain by an alias
        ("q=sip:alice@EXAMPLE.com", ["alice@example.com"]),
        ("q=al@example.com", []),  # an address is the whole user name
        ("q=@other.example.org", ["alan@other.example.org", "bert@other.example.org"]),
        ("domain=other.example.org", ["alan@other.example.org", "bert@other.example.org"]),
        ("domain=sip.example.com", ["alice@example.com", "bert@example.com"]),
        ("domain=example.com&q=b", ["bert@example.com"]),
        ("enabled=false", ["bert@other.example.org"]),
        ("enabled=true&q=bert", ["bert@example.com"]),
        ("q=nobody", []),
    ],
)
def test_a_search_finds_by_user_name_address_or_domain(operator, sub, other, alice, query, found):
    domain = sub.domain
    subscriber_create(actor=alice, domain=domain, username="bert", password=PASSWORD)
    subscriber_create(actor=alice, domain=other, username="alan", password=PASSWORD)
    subscriber_create(actor=alice, domain=other, username="bert", password=PASSWORD, enabled=False)
    page = operator.get(f"/subscribers/?{query}")
    assert page.status_code == 200
    assert listed(page) == found
    if not found:
        assert "No subscriber matches." in page.text


def test_a_search_for_a_domain_name_offers_its_list(operator, sub):
    page = operator.get("/subscribers/?q=sip.example.com")
    assert listed(page) == []
    assert 'href="/subscribers/?domain=example.com">list its subscribers</a>' in page.text


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("q=alice@nowhere.test", "q", "no domain is named nowhere.test"),
        ("q=alice@", "q", "give a domain after the @"),
        ("domain=nowhere.test", "domain", "no domain is named nowhere.test"),
        ("enabled=perhaps", "enabled", "expected true or false"),
        (f"q={'x' * 200}", "q", "at most"),
    ],
)
def test_a_bad_search_is_told_next_to_its_field(operator, sub, query, field, message):
    page = operator.get(f"/subscribers/?{query}")
    assert page.status_code == 200
    assert message in field_errors(page, field)
    assert listed(page) == []
    assert "correct the search above" in page.text


def test_pages_follow_each_other_forwards_and_back(operator, alice, domain, other, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    for name in ["a", "b", "c", "d", "e"]:
        subscriber_create(actor=alice, domain=domain, username=name, password=PASSWORD)
    for name in ["a", "b"]:
        subscriber_create(actor=alice, domain=other, username=name, password=PASSWORD)

    first = operator.get("/subscribers/")
    assert listed(first) == ["a@example.com", "b@example.com", "c@example.com"]
    assert "Previous page" not in first.text
    second = operator.get(next_link(first, "next"))
    assert listed(second) == ["d@example.com", "e@example.com", "a@other.example.org"]
    third = operator.get(next_link(second, "next"))
    assert listed(third) == ["b@other.example.org"]
    assert "Next page" not in third.text
    back = operator.get(next_link(third, "prev"))
    assert listed(back) == listed(second)
    assert listed(operator.get(next_link(back, "prev"))) == listed(first)

    # The search is kept from page to page.
    searched = operator.get("/subscribers/?q=a")
    assert listed(searched) == ["a@example.com", "a@other.example.org"]
    narrow = operator.get(f"/subscribers/?domain={domain.did}")
    assert "domain=example.com" in next_link(narrow, "next")
    assert listed(operator.get(next_link(narrow, "next"))) == ["d@example.com", "e@example.com"]


def next_link(page, rel: str) -> str:
    [link] = elements(page_tree(page), "a", rel=rel)
    return "/subscribers/" + attrs_of(link)["href"].replace("&amp;", "&")


@pytest.mark.parametrize(
    "cursor",
    [
        "after=x",
        "after=12",
        "before=:",
        "after=-1:a",
        f"after={'9' * 30}:a",
        "after=%00",
        "after=1:%00",
        "before=1:a%00",
    ],
)
def test_a_cursor_that_is_not_one_gives_the_first_page(operator, sub, cursor):
    page = operator.get(f"/subscribers/?{cursor}")
    assert page.status_code == 200
    assert listed(page) == ["alice@example.com"]


def list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert page.status_code == 200
    return len(queries)


def add_subscribers(alice, domain, start: int, count: int) -> None:
    for i in range(start, start + count):
        subscriber = subscriber_create(
            actor=alice, domain=domain, username=f"user{i:03d}", password=PASSWORD
        )
        valid_from_add(actor=alice, subscriber=subscriber, from_user=f"+4930{i:03d}")
        user_alias_add(actor=alice, domain=domain, username=f"alias{i:03d}", subscriber=subscriber)


def test_the_list_costs_the_same_queries_however_many_rows(operator, alice, domain, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 5)
    urls = [
        "/subscribers/",
        "/subscribers/?q=user0",
        "/subscribers/?q=user001@sip.example.com",
        f"/subscribers/?domain=sip.example.com&enabled=true&after={domain.pk}:user002",
        f"/subscribers/?before={domain.pk}:user004",
    ]
    add_subscribers(alice, domain, 0, 6)
    few = [list_queries(operator, url) for url in urls]
    add_subscribers(alice, domain, 6, 30)
    assert [list_queries(operator, url) for url in urls] == few


# --- adding a subscriber ----------------------------------------------------------------------


def test_an_operator_adds_a_subscriber_with_a_password(operator, domain):
    form = operator.get(f"/subscribers/add/?domain={domain.did}")
    assert 'value="example.com"' in form.text
    answer = operator.post(
        "/subscribers/add/",
        {
            "domain": "sip.example.com",
            "username": "carol",
            "password": "carol-pass-1",
            "email": "carol@example.com",
            "enabled": "on",
        },
    )
    carol = Subscriber.objects.get(domain=domain, username="carol")
    assert answer.status_code == 302 and answer.url == f"/subscribers/{carol.pk}/"
    assert carol.ha1 == digest.ha1("carol", "example.com", "carol-pass-1")
    assert carol.password == "" and carol.enabled and carol.email == "carol@example.com"
    assert list(carol.valid_froms.values_list("from_user", flat=True)) == ["carol"]
    shown = operator.get(answer.url)
    assert "Subscriber carol@example.com added; live at once" in " ".join(messages_of(shown))
    assert "carol-pass-1" not in shown.text
    no_secret_in(shown, carol)


def test_the_message_says_where_the_change_is_live(operator, sub, alice, other, tmp_path):
    proxy_create(
        actor=alice, name="edge", transport=ProxyTransport.FIFO, address=str(tmp_path / "x.fifo")
    )
    answer = operator.post(f"/subscribers/{sub.pk}/enabled/", {"enabled": "false"}, follow=True)
    assert "disabled; live once proxy edge serves example.com." in " ".join(messages_of(answer))

    domain_disable(actor=alice, domain=other)
    pending = domain_create(actor=alice, name="new.example.net", state=DomainState.PENDING)
    for domain, said in [
        (other, "not live: domain other.example.org is switched off"),
        (pending, "not live: domain new.example.net is pending verification, not served"),
    ]:
        answer = operator.post(
            "/subscribers/add/",
            {"domain": domain.did, "username": "nia", "password": "nia-pass-12"},
            follow=True,
        )
        assert said in " ".join(messages_of(answer))


def test_a_generated_password_is_shown_once_and_never_kept(operator, domain, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = False
    answer = operator.post(
        "/subscribers/add/", {"domain": "example.com", "username": "dora", "password": ""}
    )
    assert answer.status_code == 200
    assert "no-store" in answer.headers["Cache-Control"]
    [code] = elements(page_tree(answer), "code", id="new-password")
    password = text_of(code)
    assert len(password) >= settings.SERWEB_MIN_PASSWORD_LENGTH
    dora = Subscriber.objects.get(username="dora")
    assert dora.ha1 == digest.ha1("dora", "example.com", password) and dora.password == ""
    assert not dora.enabled  # the box was not ticked
    assert password not in operator.get(f"/subscribers/{dora.pk}/").text
    assert password not in str(list(AuditEntry.objects.values()))
    no_secret_in(answer, dora)


def test_a_clear_password_is_kept_only_with_the_setting(operator, sub, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    answer = operator.post(f"/subscribers/{sub.pk}/password/", {"password": ""})
    password = text_of(next(elements(page_tree(answer), "code", id="new-password")))
    sub.refresh_from_db()
    assert sub.password == password
    assert password not in operator.get(f"/subscribers/{sub.pk}/").text


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"domain": "nowhere.test"}, "domain", "no domain is named nowhere.test"),
        ({"domain": ""}, "domain", "This field is required."),
        ({"username": "bad user"}, "username", "use letters, digits"),
        ({"username": "alice"}, "username", "alice@example.com exists already"),
        ({"username": "x" * 65}, "username", "at most 64 characters"),
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"password": "p" * 65}, "password", "at most 64 characters"),
        ({"password": "tab\there-pass"}, "password", "control characters"),
        ({"email": "not-mail"}, "email", "Enter a valid email address."),
    ],
)
def test_bad_input_to_add_is_told_next_to_its_field(operator, sub, changes, field, message):
    data = {"domain": "example.com", "username": "erin", "password": "erin-pass-1", **changes}
    before = (Subscriber.objects.count(), ValidFrom.objects.count(), AuditEntry.objects.count())
    answer = operator.post("/subscribers/add/", data)
    assert answer.status_code == 200
    assert message in field_errors(answer, field)
    assert (Subscriber.objects.count(), ValidFrom.objects.count(), AuditEntry.objects.count()) == (
        before
    )
    assert 'value="erin-pass-1"' not in answer.text  # a password is never sent back


# --- a subscriber's page ---------------------------------------------------------------------


def test_the_page_shows_the_subscriber_its_identities_and_aliases(operator, sub, alice, other):
    valid_from_add(actor=alice, subscriber=sub, from_user="+4930111")
    user_alias_add(actor=alice, domain=other, username="4930111", subscriber=sub)
    page = operator.get(f"/subscribers/{sub.pk}/")
    assert page.status_code == 200
    text = page.text
    assert (
        "alice@example.com" in text and "+4930111" in text and "4930111@other.example.org" in text
    )
    assert f'hx-get="/subscribers/{sub.pk}/registrations/"' in text
    assert "needs a new one" not in text
    no_secret_in(page, sub)


def test_a_realm_change_shows_the_password_needs_renewing(operator, sub, alice):
    domain_attribute_set(
        actor=alice,
        domain=sub.domain,
        name="realm",
        value="voice.example.com",
        accept_password_reset=True,
    )
    assert "needs a new one" in operator.get(f"/subscribers/{sub.pk}/").text


def test_the_page_costs_the_same_queries_however_many_identities(operator, sub, alice, domain):
    few = list_queries(operator, f"/subscribers/{sub.pk}/")
    for i in range(10):
        valid_from_add(actor=alice, subscriber=sub, from_user=f"+49{i}")
        user_alias_add(actor=alice, domain=domain, username=f"a{i}", subscriber=sub)
    assert list_queries(operator, f"/subscribers/{sub.pk}/") == few


def test_an_idn_domain_is_shown_in_unicode_with_its_a_label_on_hover(operator, alice):
    idn = domain_create(actor=alice, name="bücher.example")
    subscriber = subscriber_create(actor=alice, domain=idn, username="ute", password=PASSWORD)
    page = operator.get("/subscribers/").text
    assert '<span class="sipname" title="xn--bcher-kva.example">bücher.example</span>' in page
    assert "bücher.example" in operator.get(f"/subscribers/{subscriber.pk}/").text


# --- password, enabled -------------------------------------------------------------------------


def test_an_operator_sets_a_password(operator, sub):
    answer = operator.post(f"/subscribers/{sub.pk}/password/", {"password": "a-new-pass-2"})
    assert answer.status_code == 302
    sub.refresh_from_db()
    assert sub.ha1 == digest.ha1("alice", "example.com", "a-new-pass-2")
    shown = operator.get(answer.url)
    assert "New password of alice@example.com set" in " ".join(messages_of(shown))
    assert "a-new-pass-2" not in shown.text


def test_a_reset_password_is_generated_and_shown_once(operator, sub):
    old = sub.ha1
    answer = operator.post(f"/subscribers/{sub.pk}/password/", {"password": ""})
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    password = text_of(next(elements(page_tree(answer), "code", id="new-password")))
    sub.refresh_from_db()
    assert sub.ha1 != old and sub.ha1 == digest.ha1("alice", "example.com", password)
    assert "New password of alice@example.com set" in " ".join(messages_of(answer))
    no_secret_in(answer, sub)


@pytest.mark.parametrize("password, message", [("short", "at least 8"), ("p" * 65, "at most 64")])
def test_a_bad_password_is_told_next_to_its_field(operator, sub, password, message):
    old = (sub.ha1, sub.ha1b, AuditEntry.objects.count())
    answer = operator.post(f"/subscribers/{sub.pk}/password/", {"password": password})
    assert answer.status_code == 200
    assert message in field_errors(answer, "password")
    sub.refresh_from_db()
    assert (sub.ha1, sub.ha1b, AuditEntry.objects.count()) == old


def test_an_operator_disables_and_enables_a_subscriber(operator, sub):
    answer = operator.post(f"/subscribers/{sub.pk}/enabled/", {"enabled": "false"})
    assert answer.status_code == 302
    sub.refresh_from_db()
    assert not sub.enabled
    page = operator.get(answer.url)
    assert "Subscriber alice@example.com disabled" in " ".join(messages_of(page))
    assert ">Enable</button>" in page.text

    operator.post(f"/subscribers/{sub.pk}/enabled/", {"enabled": "true"})
    sub.refresh_from_db()
    assert sub.enabled


def test_a_bad_enabled_value_changes_nothing(operator, sub):
    before = AuditEntry.objects.count()
    answer = operator.post(f"/subscribers/{sub.pk}/enabled/", {"enabled": "perhaps"}, follow=True)
    assert "alice@example.com was not changed" in " ".join(messages_of(answer))
    sub.refresh_from_db()
    assert sub.enabled and AuditEntry.objects.count() == before


# --- valid From identities and user aliases ---------------------------------------------------


def test_an_operator_adds_and_removes_a_valid_from(operator, sub):
    answer = operator.post(f"/subscribers/{sub.pk}/valid-from/", {"from_user": "+4930123"})
    assert answer.status_code == 302
    assert set(sub.valid_froms.values_list("from_user", flat=True)) == {"alice", "+4930123"}
    shown = operator.get(answer.url)
    assert "may now present From user +4930123" in " ".join(messages_of(shown))

    answer = operator.post(f"/subscribers/{sub.pk}/valid-from/remove/", {"from_user": "+4930123"})
    assert answer.status_code == 302
    assert list(sub.valid_froms.values_list("from_user", flat=True)) == ["alice"]
    assert "may no longer present" in " ".join(messages_of(operator.get(answer.url)))


@pytest.mark.parametrize(
    "from_user, message",
    [
        ("alice", "may already present From user alice"),
        ("no spaces", "use letters, digits"),
        ("", "This field is required."),
        ("x" * 65, "at most 64 characters"),
    ],
)
def test_a_bad_valid_from_is_told_next_to_its_field(operator, sub, from_user, message):
    before = (ValidFrom.objects.count(), AuditEntry.objects.count())
    answer = operator.post(f"/subscribers/{sub.pk}/valid-from/", {"from_user": from_user})
    assert answer.status_code == 200
    assert message in field_errors(answer, "from_user")
    assert (ValidFrom.objects.count(), AuditEntry.objects.count()) == before


@pytest.mark.parametrize("field", ["q", "domain", "enabled"])
def test_a_nul_in_a_search_is_refused_next_to_its_field(operator, sub, field):
    page = operator.get(f"/subscribers/?{field}=a%00b")
    assert page.status_code == 200 and field_errors(page, field)


@pytest.mark.parametrize(
    "url, data",
    [
        ("/subscribers/add/", {"domain": "example.com", "username": "a\x00", "password": ""}),
        ("/subscribers/add/", {"domain": "ex\x00", "username": "ann", "password": ""}),
        (
            "/subscribers/add/",
            {"domain": "example.com", "username": "ann", "password": "p\x00ssword"},
        ),
        ("/subscribers/{pk}/password/", {"password": "long\x00enough"}),
        ("/subscribers/{pk}/valid-from/", {"from_user": "a\x00"}),
        ("/subscribers/{pk}/valid-from/remove/", {"from_user": "a\x00"}),
        ("/subscribers/{pk}/aliases/", {"username": "a\x00"}),
        ("/subscribers/{pk}/aliases/", {"username": "ann", "domain": "a\x00"}),
    ],
)
def test_a_nul_in_a_form_is_refused_and_writes_nothing(operator, sub, url, data):
    before = (Subscriber.objects.count(), AuditEntry.objects.count(), unchanged(sub))
    answer = operator.post(url.format(pk=sub.pk), data, follow=True)
    assert answer.status_code == 200
    assert "Null characters are not allowed." in answer.text
    assert (Subscriber.objects.count(), AuditEntry.objects.count(), unchanged(sub)) == before


def test_removing_a_valid_from_it_does_not_have_says_so(operator, sub):
    answer = operator.post(
        f"/subscribers/{sub.pk}/valid-from/remove/", {"from_user": "+49nothing"}, follow=True
    )
    assert "has no valid From user '+49nothing'" in " ".join(messages_of(answer))
    assert sub.valid_froms.count() == 1


def test_an_operator_adds_and_removes_user_aliases(operator, sub, other):
    answer = operator.post(f"/subscribers/{sub.pk}/aliases/", {"username": "4930555"})
    assert answer.status_code == 302
    assert "4930555@example.com now leads to alice@example.com" in " ".join(
        messages_of(operator.get(answer.url))
    )
    operator.post(f"/subscribers/{sub.pk}/aliases/", {"username": "boss", "domain": other.did})
    aliases = {(a.username, a.domain.did) for a in UserAlias.objects.filter(subscriber=sub)}
    assert aliases == {("4930555", "example.com"), ("boss", "other.example.org")}

    alias = UserAlias.objects.get(username="boss")
    answer = operator.post(f"/subscribers/{sub.pk}/aliases/{alias.pk}/remove/")
    assert answer.status_code == 302
    assert "boss@other.example.org no longer leads" in " ".join(
        messages_of(operator.get(answer.url))
    )
    assert not UserAlias.objects.filter(username="boss").exists()


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"username": "alice"}, "username", "is a subscriber; an alias cannot shadow it"),
        ({"username": "bad alias"}, "username", "use letters, digits"),
        ({"username": ""}, "username", "This field is required."),
        ({"username": "ok", "domain": "nowhere.test"}, "domain", "no domain is named"),
    ],
)
def test_a_bad_alias_is_told_next_to_its_field(operator, sub, data, field, message):
    before = (UserAlias.objects.count(), AuditEntry.objects.count())
    answer = operator.post(f"/subscribers/{sub.pk}/aliases/", data)
    assert answer.status_code == 200
    assert message in field_errors(answer, field)
    assert (UserAlias.objects.count(), AuditEntry.objects.count()) == before


def test_another_subscribers_alias_is_not_removed_from_here(operator, sub, alice, domain):
    bert = subscriber_create(actor=alice, domain=domain, username="bert", password=PASSWORD)
    alias = user_alias_add(actor=alice, domain=domain, username="bb", subscriber=bert)
    assert operator.post(f"/subscribers/{sub.pk}/aliases/{alias.pk}/remove/").status_code == 404
    assert UserAlias.objects.filter(pk=alias.pk).exists()


# --- deleting ------------------------------------------------------------------------------------


def test_deleting_asks_first_naming_what_goes_with_it(operator, sub, alice, domain):
    valid_from_add(actor=alice, subscriber=sub, from_user="+4930999")
    user_alias_add(actor=alice, domain=domain, username="ali", subscriber=sub)
    confirm = operator.get(f"/subscribers/{sub.pk}/delete/")
    assert confirm.status_code == 200
    text = " ".join(confirm.text.split())
    assert "2 valid From identities" in text and "+4930999" in text
    assert "1 user alias" in text and "ali@example.com" in text
    assert Subscriber.objects.filter(pk=sub.pk).exists()

    answer = operator.post(f"/subscribers/{sub.pk}/delete/")
    assert answer.status_code == 302 and answer.url == "/subscribers/?domain=example.com"
    assert not Subscriber.objects.filter(pk=sub.pk).exists()
    assert not UserAlias.objects.filter(username="ali").exists()
    assert "Subscriber alice@example.com deleted" in " ".join(messages_of(operator.get(answer.url)))
    assert operator.get(f"/subscribers/{sub.pk}/").status_code == 404


# --- registrations ----------------------------------------------------------------------------


def test_with_no_proxy_the_panel_says_there_is_nobody_to_ask(operator, sub):
    panel = operator.get(f"/subscribers/{sub.pk}/registrations/", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    assert "<html" not in panel.text  # the fragment alone, for htmx
    assert "No enabled proxy is registered with serweb" in panel.text


def test_a_proxy_that_does_not_answer_costs_the_timeout_once(
    operator, sub, alice, settings, tmp_path
):
    settings.SERWEB_REGISTRATIONS_TIMEOUT_MS = 300
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives the request, never answers
    try:
        for i in range(3):
            proxy_create(
                actor=alice,
                name=f"silent-{i}",
                transport=ProxyTransport.UDP,
                address=f"127.0.0.1:{silent.getsockname()[1]}",
            )
        proxy_create(
            actor=alice,
            name="stopped",
            transport=ProxyTransport.FIFO,
            address=str(tmp_path / "kamailio.fifo"),
        )
        started = time.monotonic()
        page = operator.get(f"/subscribers/{sub.pk}/registrations/")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert page.status_code == 200
    assert "<html" in page.text  # without htmx, a page of its own
    assert "No proxy answered" in page.text
    assert "no reply from 127.0.0.1" in page.text and "Kamailio is not running" in page.text
    # The three silent proxies were asked at the same time.
    assert took < 3 * 0.3


def test_the_subscriber_page_does_not_wait_for_the_proxies(operator, sub, alice, settings):
    settings.SERWEB_REGISTRATIONS_TIMEOUT_MS = 2000
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        proxy_create(
            actor=alice,
            name="silent",
            transport=ProxyTransport.UDP,
            address=f"127.0.0.1:{silent.getsockname()[1]}",
        )
        started = time.monotonic()
        page = operator.get(f"/subscribers/{sub.pk}/")
        assert time.monotonic() - started < 1.5
    finally:
        silent.close()
    assert "Asking the proxies" in page.text
    assert re.search(r'hx-trigger="load"', page.text)


# --- who may ---------------------------------------------------------------------------------


def subscriber_urls(sub: Subscriber, alias: UserAlias) -> list[tuple[str, str]]:
    pk = sub.pk
    return [
        ("get", "/subscribers/"),
        ("get", "/subscribers/?q=alice"),
        ("get", "/subscribers/add/"),
        ("post", "/subscribers/add/"),
        ("get", f"/subscribers/{pk}/"),
        ("post", f"/subscribers/{pk}/password/"),
        ("post", f"/subscribers/{pk}/enabled/"),
        ("post", f"/subscribers/{pk}/valid-from/"),
        ("post", f"/subscribers/{pk}/valid-from/remove/"),
        ("post", f"/subscribers/{pk}/aliases/"),
        ("post", f"/subscribers/{pk}/aliases/{alias.pk}/remove/"),
        ("get", f"/subscribers/{pk}/delete/"),
        ("post", f"/subscribers/{pk}/delete/"),
        ("get", f"/subscribers/{pk}/registrations/"),
    ]


@pytest.fixture
def alias(alice, sub, domain) -> UserAlias:
    return user_alias_add(actor=alice, domain=domain, username="ali", subscriber=sub)


def unchanged(sub: Subscriber) -> tuple:
    sub.refresh_from_db()
    return (sub.ha1, sub.enabled, sub.valid_froms.count(), sub.aliases.count())


def test_anonymous_visitors_are_sent_to_the_sign_in(client, sub, alias):
    before = unchanged(sub)
    for method, url in subscriber_urls(sub, alias):
        answer = getattr(client, method)(url, {"password": "", "enabled": "false"})
        assert answer.status_code == 302, url
        assert answer.url.startswith(f"{SIGN_IN}?next="), url
    assert unchanged(sub) == before


@pytest.mark.parametrize("tenant", ["bob", "charlie"])
def test_tenants_get_404_and_change_nothing(client, sub, alias, bob, charlie, tenant):
    client.force_login(bob if tenant == "bob" else charlie)
    before = unchanged(sub)
    for method, url in subscriber_urls(sub, alias):
        answer = getattr(client, method)(url, {"password": "", "enabled": "false"})
        assert answer.status_code == 404, url
    assert unchanged(sub) == before
    assert 'href="/subscribers/"' not in client.get("/my/domains/").text


def test_a_subscriber_that_is_not_there_is_404(operator, sub, alias):
    for method, url in subscriber_urls(sub, alias)[4:]:
        missing = url.replace(f"/{sub.pk}/", "/999999/")
        assert getattr(operator, method)(missing).status_code == 404, missing


def test_the_writes_take_only_post(operator, sub, alias):
    for method, url in subscriber_urls(sub, alias):
        if method == "post" and not url.endswith(("/add/", "/delete/")):
            assert operator.get(url).status_code == 405, url


def test_every_form_has_a_token_and_needs_it(operator, sub, alias):
    actions = set()
    for url in [
        "/subscribers/",
        "/subscribers/add/",
        f"/subscribers/{sub.pk}/",
        f"/subscribers/{sub.pk}/delete/",
    ]:
        actions.update(post_forms(operator, url))
    assert f"/subscribers/{sub.pk}/password/" in actions
    assert f"/subscribers/{sub.pk}/aliases/{alias.pk}/remove/" in actions
    before = unchanged(sub)
    for action in actions:
        assert refused_without_token(operator, action), action
    assert unchanged(sub) == before
