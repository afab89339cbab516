"""Tenants sign up themselves: an account and its tenant at once, nothing usable before the
mailed link is followed, refusals next to their fields, one tenant however many submit."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEntry
from domains.models import Tenant
from tests.helpers import in_parallel
from tests.portal_helpers import elements, page_tree, text_of

SIGN_UP = "/accounts/signup/"
FORM = {
    "organisation": "Dana's Phones",
    "email": "dana@example.net",
    "username": "dana",
    "password1": "a-long-pass-1",
    "password2": "a-long-pass-1",
}


def sign_up(client, **changes):
    return client.post(SIGN_UP, {**FORM, **changes})


def field_error(page, field: str) -> str:
    [error] = elements(page_tree(page), "small", id=f"id_{field}_error")
    return text_of(error)


def confirmation_link(mail) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.body).group(1)


def test_a_sign_up_makes_an_unconfirmed_tenant_and_mails_its_link(client, db, mailoutbox):
    page = sign_up(client)

    assert page.status_code == 302
    tenant = Tenant.objects.get(name="Dana's Phones")
    assert tenant.owner.username == "dana" and tenant.owner.email == "dana@example.net"
    assert tenant.confirmed_at is None
    assert not tenant.owner.is_staff
    [mail] = mailoutbox
    assert mail.to == ["dana@example.net"]
    assert "/accounts/confirm-email/" in mail.body
    assert "a-long-pass-1" not in mail.body
    entry = AuditEntry.objects.get(action="tenant.create")
    assert entry.actor_name == "dana" and entry.channel == "web"


def test_an_unconfirmed_tenant_sees_only_the_request_to_confirm(client, db, mailoutbox):
    sign_up(client)
    page = client.get("/my/domains/", follow=True)
    assert "Confirm your e-mail address" in page.text
    assert "dana@example.net" in page.text
    [title] = elements(page_tree(page), "h1")
    assert text_of(title) == "Confirm your e-mail address"


def test_following_the_link_confirms_the_tenant(client, db, mailoutbox):
    sign_up(client)
    link = confirmation_link(mailoutbox[0])

    # Opening the link changes nothing (a mail scanner opens links); the button does.
    assert client.get(link).status_code == 200
    assert Tenant.objects.get(name="Dana's Phones").confirmed_at is None
    client.post(link)

    tenant = Tenant.objects.get(name="Dana's Phones")
    assert tenant.confirmed_at is not None
    assert EmailAddress.objects.get(user=tenant.owner).verified
    assert AuditEntry.objects.filter(action="tenant.confirm", tenant=tenant).count() == 1
    page = client.get("/my/domains/")
    assert page.status_code == 200 and "Your domains" in page.text


def test_the_link_can_be_sent_again_but_not_at_once(client, db, settings, mailoutbox):
    sign_up(client)
    page = client.post("/my/confirm/again/", follow=True)
    assert "wait a little" in page.text
    assert len(mailoutbox) == 1

    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "confirm_email": None}
    page = client.post("/my/confirm/again/", follow=True)
    assert "on its way to dana@example.net" in page.text
    assert len(mailoutbox) == 2
    assert confirmation_link(mailoutbox[1])


def test_sending_again_is_for_unconfirmed_tenants_only(client, bob):
    client.force_login(bob)
    assert client.post("/my/confirm/again/").status_code == 404
    assert client.get("/my/confirm/again/").status_code == 405


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"organisation": "bob-corp"}, "organisation", "exists already"),
        ({"organisation": "BOB-Corp"}, "organisation", "exists already"),
        ({"organisation": ""}, "organisation", "required"),
        ({"organisation": "x" * 101}, "organisation", "at most 100"),
        ({"username": "bob"}, "username", "already"),
        ({"username": "no spaces"}, "username", "letters"),
        ({"email": "not-an-address"}, "email", "valid email"),
        ({"email": ""}, "email", "required"),
        ({"password2": "another-pass-2"}, "password2", "same password"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_made(
    client, bob, mailoutbox, changes, field, message
):
    tenants, users = Tenant.objects.count(), get_user_model().objects.count()
    page = sign_up(client, **changes)

    assert page.status_code == 200
    assert message.lower() in field_error(page, field).lower()
    assert (Tenant.objects.count(), get_user_model().objects.count()) == (tenants, users)
    assert mailoutbox == []


def test_an_address_in_use_gets_no_second_account(client, bob, mailoutbox):
    EmailAddress.objects.create(user=bob, email="bob@example.net", verified=True, primary=True)
    page = sign_up(client, email="BOB@example.net")

    assert page.status_code == 200
    assert "already registered" in field_error(page, "email")
    assert not Tenant.objects.filter(name="Dana's Phones").exists()
    assert mailoutbox == []


def test_sign_up_closed_by_the_operators(client, db, settings, mailoutbox):
    settings.SERWEB_TENANT_SIGNUP = False
    sign_up(client)
    assert not Tenant.objects.exists()
    assert mailoutbox == []


def test_a_signed_in_person_is_not_offered_to_sign_up(client, bob):
    client.force_login(bob)
    assert client.get(SIGN_UP).status_code == 302


def test_sign_ups_are_limited_per_address(client, db, settings, mailoutbox):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/h/ip"}
    for i in range(2):
        Client().post(
            SIGN_UP,
            {**FORM, "organisation": f"Org {i}", "username": f"u{i}", "email": f"u{i}@example.net"},
        )
    page = client.post(
        SIGN_UP, {**FORM, "organisation": "Org 3", "username": "u3", "email": "u3@example.net"}
    )
    assert page.status_code == 429
    assert Tenant.objects.count() == 2


@pytest.mark.postgres
def test_parallel_sign_ups_of_one_name_make_one_tenant(transactional_db, settings, mailoutbox):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": None}

    def attempt(i: int):
        return Client().post(
            SIGN_UP,
            {**FORM, "username": f"dana{i}", "email": f"dana{i}@example.net"},
        )

    pages = in_parallel(6, attempt)

    assert all(not isinstance(page, BaseException) for page in pages), pages
    assert sorted(page.status_code for page in pages) == [200] * 5 + [302]
    assert Tenant.objects.filter(name="Dana's Phones").count() == 1
    assert get_user_model().objects.filter(username__startswith="dana").count() == 1
    refused = [page for page in pages if page.status_code == 200]
    assert all("exists already" in field_error(page, "organisation") for page in refused)
