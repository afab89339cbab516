"""The portal's own sign-in: where people land, errors beside their field, sign-up closed,
sign-out, password change and reset by e-mail, the optional second factor, and the admin
that sends people here."""

import os
import re
import subprocess
import sys

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
from django.test import Client

from tests.portal_helpers import (
    SIGN_IN,
    TOTP_SECRET,
    attrs_of,
    elements,
    page_tree,
    sign_in,
    text_of,
    totp_code,
)
from tests.test_cli import BASE_DIR


def test_operators_land_on_the_dashboard(client, alice):
    answer = sign_in(client, "alice", "alice-pass")
    assert answer.status_code == 302 and answer.url == "/"
    assert client.get("/").url == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_tenants_land_on_their_domains(client, bob):
    sign_in(client, "bob", "bob-pass")
    assert client.get("/").url == "/my/domains/"
    assert client.get("/my/domains/").status_code == 200


def test_a_next_address_is_followed_after_signing_in(client, alice):
    answer = client.post(
        f"{SIGN_IN}?next=/dashboard/", {"login": "alice", "password": "alice-pass"}
    )
    assert answer.url == "/dashboard/"


def test_an_account_that_is_neither_operator_nor_tenant_is_told_so(client, db):
    get_user_model().objects.create_user("eve", password="eve-pass")
    sign_in(client, "eve", "eve-pass")
    page = client.get("/")
    assert page.status_code == 403
    assert "neither an operator nor the owner of a tenant" in " ".join(page.text.split())


def test_a_missing_field_has_its_error_right_after_its_input(client, db):
    page = client.post(SIGN_IN, {"login": "", "password": "something"})

    field = next(
        div
        for div in elements(page_tree(page), "div", class_="field")
        if any(elements(div, "input", name="login"))
    )
    children = [child for child in field.children if not isinstance(child, str)]
    names = [child.name for child in children]
    login_input = next(child for child in children if child.name == "input")
    error = children[names.index("input") + 1]
    assert attrs_of(login_input)["aria-invalid"] == "true"
    assert attrs_of(error)["id"] == "id_login_error"
    assert "id_login_error" in attrs_of(login_input)["aria-describedby"].split()
    assert text_of(error) == "This field is required."


def test_a_wrong_password_is_one_alert_on_top_of_the_form(client, alice):
    page = sign_in(client, "alice", "not-her-password")

    assert page.status_code == 200
    [alert] = elements(page_tree(page), "div", role="alert")
    assert text_of(alert) == "The username and/or password you specified are not correct."
    assert "_auth_user_id" not in client.session


def test_sign_up_closed_by_the_operators_makes_nobody(client, db, settings):
    settings.SERWEB_TENANT_SIGNUP = False
    page = client.get("/accounts/signup/")
    assert "Sign-up is closed" in page.text
    client.post(
        "/accounts/signup/",
        {"username": "mallory", "password1": "a-long-pass-1", "password2": "a-long-pass-1"},
    )
    assert not get_user_model().objects.filter(username="mallory").exists()
    assert "/accounts/signup/" not in client.get(SIGN_IN).text


def test_signing_out_takes_a_post_and_ends_the_session(client, alice):
    sign_in(client, "alice", "alice-pass")
    confirm = client.get("/accounts/logout/")
    assert confirm.status_code == 200 and "_auth_user_id" in client.session

    answer = client.post("/accounts/logout/")
    assert answer.url == SIGN_IN
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").url == f"{SIGN_IN}?next=/dashboard/"


def test_a_password_change_keeps_the_session_and_takes_the_new_password(client, bob):
    sign_in(client, "bob", "bob-pass")
    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "wrong", "password1": "a-new-secret-77", "password2": "a-new-secret-77"},
    )
    assert "Please type your current password." in wrong.text

    client.post(
        "/accounts/password/change/",
        {
            "oldpassword": "bob-pass",
            "password1": "a-new-secret-77",
            "password2": "a-new-secret-77",
        },
    )
    assert client.get("/my/domains/").status_code == 200
    bob.refresh_from_db()
    assert bob.check_password("a-new-secret-77")


def test_a_password_reset_mails_a_link_that_sets_a_new_password(client, bob, mailoutbox):
    sent = client.post("/accounts/password/reset/", {"email": "bob@tenant.test"})
    assert sent.url == "/accounts/password/reset/done/"
    [mail] = mailoutbox
    assert mail.to == ["bob@tenant.test"] and mail.subject.startswith("[serweb] ")
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.body)[1]

    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(set_url, {"password1": "reset-secret-88", "password2": "reset-secret-88"})
    assert done.url == "/accounts/password/reset/key/done/"

    assert sign_in(client, "bob", "reset-secret-88").url == "/"


def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, db, mailoutbox):
    sent = client.post("/accounts/password/reset/", {"email": "nobody@nowhere.test"})
    assert sent.url == "/accounts/password/reset/done/"
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("database_url", "backend"),
    [("", "console.EmailBackend"), ("postgres://u@db.invalid/serweb", "smtp.EmailBackend")],
)
def test_mail_goes_to_the_console_on_the_embedded_default_and_over_smtp_otherwise(
    tmp_path, database_url, backend
):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "EMAIL_", "DJANGO_SETTINGS"))
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="serweb-mail-test-key",
        SERWEB_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="serweb.settings",
        EMAIL_HOST="smtp.example.test",
        EMAIL_PORT="587",
        EMAIL_USE_TLS="1",
        EMAIL_HOST_USER="serweb",
        DEFAULT_FROM_EMAIL="portal@example.test",
    )
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST,"
            " s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_HOST_USER, s.DEFAULT_FROM_EMAIL)",
        ],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown[0] == f"django.core.mail.backends.{backend}"
    assert shown[1:] == ["smtp.example.test", "587", "True", "serweb", "portal@example.test"]


def test_tls_and_ssl_together_are_refused(tmp_path):
    env = dict(os.environ, EMAIL_USE_TLS="1", EMAIL_USE_SSL="1", SERWEB_VAR_DIR=str(tmp_path))
    env["DJANGO_SETTINGS_MODULE"] = "serweb.settings"
    failed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.EMAIL_HOST"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert failed.returncode != 0
    assert "EMAIL_USE_TLS and EMAIL_USE_SSL: set one of them, not both" in failed.stderr


# --- the second factor -------------------------------------------------------------------


@pytest.fixture
def alice_with_totp(alice):
    TOTP.activate(alice, TOTP_SECRET)
    return alice


def test_the_code_helper_follows_rfc_6238():
    # RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" at T = 59 s.
    assert totp_code("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", at=59) == "287082"


def test_with_totp_the_password_alone_does_not_sign_in(client, alice_with_totp):
    answer = sign_in(client, "alice", "alice-pass")
    assert answer.url == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").status_code == 302

    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert "Incorrect code." in wrong.text
    assert "_auth_user_id" not in client.session

    signed_in = client.post("/accounts/2fa/authenticate/", {"code": totp_code(TOTP_SECRET)})
    assert signed_in.url == "/"
    assert client.get("/dashboard/").status_code == 200


def test_a_totp_code_is_taken_once(client, alice_with_totp):
    code = totp_code(TOTP_SECRET)
    sign_in(client, "alice", "alice-pass")
    client.post("/accounts/2fa/authenticate/", {"code": code})
    client.post("/accounts/logout/")

    sign_in(client, "alice", "alice-pass")
    again = client.post("/accounts/2fa/authenticate/", {"code": code})
    assert "Incorrect code." in again.text
    assert "_auth_user_id" not in client.session


def test_totp_is_activated_from_the_account_pages_after_the_password_again(client, alice):
    sign_in(client, "alice", "alice-pass")
    asked = client.get("/accounts/2fa/totp/activate/")
    assert asked.url.startswith("/accounts/reauthenticate/")
    client.post(asked.url, {"password": "alice-pass"})
    page = client.get("/accounts/2fa/totp/activate/")
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page.text)
    assert secret, page.text
    activated = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret[1])})
    assert activated.status_code == 302
    assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()


# --- the admin signs in through the portal -----------------------------------------------


def test_the_admin_sends_people_to_the_portal_sign_in(client, db):
    assert client.get("/admin/").url == "/admin/login/?next=/admin/"
    assert client.get("/admin/login/?next=/admin/").url == f"{SIGN_IN}?next=/admin/"


def test_the_admin_is_for_superusers_only(client, alice, bob):
    for person in (alice, bob):
        client.force_login(person)
        assert client.get("/admin/", follow=True).status_code == 404
        assert client.get("/admin/domains/domain/", follow=True).status_code == 404
    root = get_user_model().objects.create_superuser("root", "root@operator.test", "root-pass")
    client.force_login(root)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/").url == "/admin/"


def test_a_superuser_with_totp_reaches_the_admin_only_with_the_code(client, db):
    get_user_model().objects.create_superuser("root", "root@operator.test", "root-pass")
    TOTP.activate(get_user_model().objects.get(username="root"), TOTP_SECRET)

    answer = client.post(
        f"{SIGN_IN}?next=/admin/", {"login": "root", "password": "root-pass"}, follow=True
    )
    assert answer.redirect_chain[-1][0].startswith("/accounts/2fa/authenticate/")
    # Still asked for the code, not let in.
    assert client.get("/admin/", follow=True).redirect_chain[-1][0] == (
        "/accounts/2fa/authenticate/"
    )

    done = client.post("/accounts/2fa/authenticate/", {"code": totp_code(TOTP_SECRET)})
    assert done.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_shows_no_second_factor_secret_and_can_remove_a_lost_one(client, alice):
    TOTP.activate(alice, TOTP_SECRET)
    [authenticator] = Authenticator.objects.filter(user=alice)
    root = get_user_model().objects.create_superuser("root", "root@operator.test", "root-pass")
    client.force_login(root)

    pages = [
        client.get("/admin/mfa/authenticator/"),
        client.get(f"/admin/mfa/authenticator/{authenticator.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert TOTP_SECRET not in page.text and "alice" in page.text
    assert client.get("/admin/mfa/authenticator/?data__contains=J").status_code == 400

    client.post(f"/admin/mfa/authenticator/{authenticator.pk}/delete/", {"post": "yes"})
    assert not Authenticator.objects.filter(user=alice).exists()
    assert sign_in(Client(), "alice", "alice-pass").url == "/"
