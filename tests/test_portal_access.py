"""Every portal page for every kind of visitor: anonymous visitors are sent to the sign-in,
tenants get 404 on operators' pages (and operators on tenants'), and every form carries
Django's CSRF token and is refused without it."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import get_resolver
from django.urls.converters import StringConverter

from tests.portal_helpers import SIGN_IN, TOTP_SECRET, attrs_of, elements, page_tree, sign_in

OPERATOR_PAGES = [
    "/dashboard/",
    "/dashboard/?part=proxies",
    "/proxies/",
    "/proxies/?part=status",
    "/proxies/add/",
    "/tenants/",
    "/tenants/?q=x&page=2",
    "/tenants/add/",
    "/tenants/transfer/",
]
TENANT_PAGES = ["/my/domains/", "/my/domains/?page=2"]
ACCOUNT_PAGES = [
    "/accounts/password/change/",
    "/accounts/2fa/",
    "/accounts/logout/",
]
SIGNED_IN_PAGES = ["/", *OPERATOR_PAGES, *TENANT_PAGES, *ACCOUNT_PAGES]
PUBLIC_PAGES = [SIGN_IN, "/accounts/password/reset/", "/accounts/signup/"]


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_anonymous_visitors_are_sent_to_the_sign_in(client, db, url):
    answer = client.get(url)
    assert answer.status_code == 302
    # Back where they were going once signed in (signing out leads nowhere else).
    wanted = SIGN_IN if url == "/accounts/logout/" else f"{SIGN_IN}?next="
    assert answer.url.startswith(wanted)


@pytest.mark.parametrize("url", OPERATOR_PAGES)
@pytest.mark.parametrize("tenant", ["bob", "charlie"])
def test_tenants_get_404_on_operator_pages(client, bob, charlie, tenant, url):
    client.force_login(bob if tenant == "bob" else charlie)
    answer = client.get(url)
    assert answer.status_code == 404
    assert "Page not found" in answer.text  # the portal's page, not a bare one


@pytest.mark.parametrize("url", TENANT_PAGES)
def test_operators_get_404_on_tenant_pages(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", [*OPERATOR_PAGES, *ACCOUNT_PAGES])
def test_operators_reach_their_pages(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", [*TENANT_PAGES, *ACCOUNT_PAGES])
def test_tenants_reach_their_pages(client, bob, url):
    client.force_login(bob)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_the_public_pages_answer_anybody(client, db, url):
    assert client.get(url).status_code == 200


def test_allauths_own_list_of_e_mail_addresses_is_not_offered(client, bob):
    client.force_login(bob)
    assert client.get("/accounts/email/").status_code == 404


def test_the_navigation_shows_what_each_person_has(client, alice, bob):
    client.force_login(alice)
    operator_nav = client.get("/dashboard/").text
    assert 'href="/dashboard/" aria-current="page"' in operator_nav
    assert 'href="/my/domains/"' not in operator_nav
    assert 'href="/admin/"' not in operator_nav  # alice is no superuser

    client.force_login(bob)
    tenant_nav = client.get("/my/domains/").text
    assert 'href="/my/domains/" aria-current="page"' in tenant_nav
    assert 'href="/dashboard/"' not in tenant_nav


# --- CSRF on every form --------------------------------------------------------------------


def post_forms(client: Client, url: str) -> list[str]:
    """The actions of the POST forms on the page at ``url``, each checked for its token."""
    page = client.get(url, follow=True)
    assert page.status_code == 200, url
    actions = []
    for form in elements(page_tree(page), "form"):
        if (attrs_of(form).get("method") or "get").lower() != "post":
            continue
        tokens = list(elements(form, "input", name="csrfmiddlewaretoken"))
        assert len(tokens) == 1, f"a form on {url} has no CSRF token"
        shown_at = page.redirect_chain[-1][0] if page.redirect_chain else url
        actions.append(attrs_of(form).get("action") or shown_at)
    return actions


def refused_without_token(client: Client, action: str) -> bool:
    """A client that sends the session cookie but no CSRF token gets 403."""
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    return strict.post(action, {}).status_code == 403


def test_every_form_of_the_sign_in_pages_has_a_token_and_needs_it(client, db):
    actions = set()
    for url in PUBLIC_PAGES:
        actions.update(post_forms(client, url))
    assert {SIGN_IN, "/accounts/password/reset/"} <= actions
    for action in actions:
        assert refused_without_token(client, action), action


def test_every_form_of_the_signed_in_pages_has_a_token_and_needs_it(client, alice, bob):
    for person in (alice, bob):
        client.force_login(person)
        actions = set()
        pages = ["/dashboard/" if person is alice else "/my/domains/", *ACCOUNT_PAGES]
        # Asks for the password again first, then shows the code form.
        pages += ["/accounts/reauthenticate/", "/accounts/2fa/totp/activate/"]
        for url in pages:
            actions.update(post_forms(client, url))
        assert {"/accounts/logout/", "/accounts/password/change/"} <= actions
        for action in actions:
            assert refused_without_token(client, action), action


def test_the_second_factor_form_has_a_token_and_needs_it(client, alice):
    TOTP.activate(alice, TOTP_SECRET)
    sign_in(client, "alice", "alice-pass")
    actions = post_forms(client, "/accounts/2fa/authenticate/")
    assert actions
    for action in actions:
        assert refused_without_token(client, action), action


def _pages_with_text_in_the_address() -> list[tuple[str, list[str]]]:
    """Each portal page whose address carries text (a did, a name, a token), with the
    names of those parts."""
    pages = []
    for pattern in get_resolver("portal.urls").url_patterns:
        texts = [
            name
            for name, converter in pattern.pattern.converters.items()
            if isinstance(converter, StringConverter)
        ]
        if texts:
            pages.append((str(pattern.pattern), texts))
    return pages


@pytest.mark.parametrize("person", ["alice", "bob"])
def test_a_nul_in_any_address_is_not_found_never_an_error(client, alice, bob, person):
    client.force_login({"alice": alice, "bob": bob}[person])
    pages = _pages_with_text_in_the_address()
    assert len(pages) > 10  # the domain pages, the tenant's, the imports
    for route, texts in pages:
        address = "/" + route
        for name in texts:
            address = address.replace(f"<str:{name}>", "a%00b")
        address = re.sub(r"<int:\w+>", "1", address)
        for answer in (client.get(address), client.post(address)):
            assert answer.status_code in (404, 405), (address, answer.status_code)
