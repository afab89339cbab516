"""Guessing is slow: failed token authentications and failed sign-ins are counted per client
address and refused once the address has spent its budget, in one process and across
several sharing a Redis cache."""

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import redis
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.signals import user_login_failed
from django.core import checks
from django.test import Client
from rest_framework.test import APIClient

from api.models import ApiToken
from serweb import auth_throttle
from serweb.checks import warn_at_start
from tests.api_helpers import client_for
from tests.helpers import database_url, in_parallel
from tests.kamailio_harness import redis_reachable, scratch_dir
from tests.portal_helpers import TOTP_SECRET, totp_code
from tests.test_cli import postgres_only
from tests.test_e2e_lookup import Serweb

LIMIT = 3
WINDOW = 60
REDIS_URL = os.environ.get("SERWEB_TEST_CACHE_URL", "redis://127.0.0.1:6379/3")


@pytest.fixture
def budget(settings):
    settings.SERWEB_AUTH_FAILURE_LIMIT = LIMIT
    settings.SERWEB_AUTH_FAILURE_WINDOW = WINDOW


@pytest.fixture
def clock(monkeypatch):
    """The budget's clock, at the start of a window; move it with ``clock[0] += s``."""
    now = [1_000_000 * WINDOW + 0.5]
    monkeypatch.setattr(auth_throttle, "clock", lambda: now[0])
    return now


def wrong_token(address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION="Bearer 0123456789ab.not-the-secret")
    return client


def test_a_flood_of_wrong_tokens_gets_429_with_retry_after(alice, budget, clock):
    codes = [wrong_token().get("/api/v1/domains/").status_code for _ in range(LIMIT)]
    assert codes == [401] * LIMIT

    clock[0] += 10
    refused = wrong_token().get("/api/v1/domains/")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(WINDOW - 10)
    body = refused.json()
    assert body["code"] == "throttled"
    assert body["detail"].startswith("Too many failed token authentications")


def test_a_spent_budget_refuses_even_the_right_token_unchecked(alice, budget, clock):
    valid = client_for(alice)
    valid.defaults["REMOTE_ADDR"] = "127.0.0.1"
    for _ in range(LIMIT):
        wrong_token().get("/api/v1/domains/")

    assert valid.get("/api/v1/domains/").status_code == 429
    # Not even looked at: a right guess looks like a wrong one.
    assert ApiToken.objects.get(user=alice).last_used_at is None
    other_address = client_for(alice)
    other_address.defaults["REMOTE_ADDR"] = "192.0.2.9"
    assert other_address.get("/api/v1/domains/").status_code == 200

    clock[0] += WINDOW
    assert valid.get("/api/v1/domains/").status_code == 200


@postgres_only
def test_parallel_wrong_tokens_get_no_more_401s_than_the_budget(alice, budget, transactional_db):
    codes = in_parallel(30, lambda i: wrong_token().get("/api/v1/domains/").status_code)
    assert sorted(codes) == [401] * LIMIT + [429] * (30 - LIMIT)


def test_another_header_does_not_make_another_client(alice, budget, clock):
    for i in range(LIMIT):
        client = wrong_token()
        client.defaults["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{i}"
        assert client.get("/api/v1/domains/").status_code == 401
    spoofed = wrong_token()
    spoofed.defaults["HTTP_X_FORWARDED_FOR"] = "198.51.100.200"
    assert spoofed.get("/api/v1/domains/").status_code == 429


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
    ],
)
def test_addresses_are_counted_by_host_and_ipv6_by_64(rf, address, counted_as):
    assert auth_throttle.client_address(rf.get("/", REMOTE_ADDR=address)) == counted_as


def test_behind_a_trusted_proxy_the_forwarded_address_counts(rf, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.2")
    assert auth_throttle.client_address(request) == "10.0.0.2"


# --- the portal's sign-in (the admin's too) --------------------------------------------------


def sign_in(client, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/accounts/login/", {"login": "alice", "password": password}, REMOTE_ADDR=address
    )


def test_failed_sign_ins_are_throttled_with_a_clear_message(client, alice, budget, clock):
    checked = []
    user_login_failed.connect(lambda **kw: checked.append(kw), weak=False, dispatch_uid="t")
    try:
        for _ in range(LIMIT):
            page = sign_in(client, "wrong")
            assert "The username and/or password you specified are not correct." in page.text
        assert len(checked) == LIMIT

        refused = sign_in(client, "wrong")
        assert "Too many failed attempts from your address. Try again in 60 seconds." in (
            refused.text
        )
        right_too = sign_in(client, "alice-pass")
        assert right_too.status_code == 200 and "Too many failed attempts" in right_too.text
        assert "_auth_user_id" not in client.session
        assert len(checked) == LIMIT  # once spent, no password is checked
    finally:
        user_login_failed.disconnect(dispatch_uid="t")

    elsewhere = sign_in(client, "alice-pass", address="192.0.2.7")
    assert elsewhere.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)

    clock[0] += WINDOW
    client.post("/accounts/logout/")
    assert sign_in(client, "alice-pass").status_code == 302


def test_sign_in_budget_is_apart_from_the_token_budget(client, alice, budget, clock):
    for _ in range(LIMIT):
        wrong_token().get("/api/v1/domains/")
    assert sign_in(client, "alice-pass").status_code == 302


def test_wrong_second_factor_codes_spend_the_same_budget(client, alice, budget, clock):
    TOTP.activate(alice, TOTP_SECRET)
    sign_in(client, "wrong")
    assert sign_in(client, "alice-pass").url == "/accounts/2fa/authenticate/"
    for _ in range(LIMIT - 1):
        page = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
        assert "Incorrect code." in page.text

    right_code = client.post("/accounts/2fa/authenticate/", {"code": totp_code(TOTP_SECRET)})
    assert "Too many failed attempts from your address." in right_code.text
    assert "_auth_user_id" not in client.session
    assert "Too many failed attempts" in sign_in(Client(), "alice-pass").text


# --- production needs a shared cache -------------------------------------------------------


def test_production_without_a_shared_cache_is_warned_about(settings, caplog):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    found = checks.run_checks(include_deployment_checks=True)
    assert "serweb.W001" in [message.id for message in found]
    assert "serweb.W001" not in [message.id for message in checks.run_checks()]

    warn_at_start()
    assert "CACHE_URL is not set" in caplog.text

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    found = checks.run_checks(include_deployment_checks=True)
    assert "serweb.W001" not in [message.id for message in found]


# --- two processes, one budget -------------------------------------------------------------


@pytest.fixture
def redis_prefix():
    if not redis_reachable():
        pytest.fail("this test needs Redis on 127.0.0.1:6379 as the shared cache")
    prefix = f"serweb-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)


def _status(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _sign_in_page(url: str, password: str) -> str:
    """The page a browser gets after posting the sign-in form at ``url`` as alice."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(url, timeout=10) as answer:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', answer.read().decode())[1]
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "login": "alice", "password": password}
    ).encode()
    with opener.open(url, data=form, timeout=10) as answer:
        return answer.read().decode()


@postgres_only
def test_two_server_processes_share_one_budget(transactional_db, redis_prefix, alice):
    environment = {
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": redis_prefix,
        "SERWEB_AUTH_FAILURE_LIMIT": "4",
        "SERWEB_AUTH_FAILURE_WINDOW": "600",
    }
    with scratch_dir("serweb-shared-budget-") as directory:
        servers = []
        for name in ("one", "two"):
            (directory / name).mkdir()
            server = Serweb(directory / name, database_url=database_url(), environment=environment)
            servers.append(server)
        try:
            for server in servers:
                server.start()
            urls = [f"http://127.0.0.1:{s.port}/api/v1/domains/" for s in servers]
            wrong = {"Authorization": "Bearer 0123456789ab.not-the-secret"}

            answers = [_status(urls[i % 2], wrong) for i in range(4)]
            assert [code for code, _ in answers] == [401] * 4
            for url in urls:
                code, body = _status(url, wrong)
                assert code == 429 and body["code"] == "throttled"

            # Sign-ins have their own budget, shared the same way.
            logins = [f"http://127.0.0.1:{s.port}/accounts/login/" for s in servers]
            pages = [_sign_in_page(logins[i % 2], "wrong") for i in range(4)]
            assert all("password you specified are not correct" in page for page in pages)
            for url in logins:
                assert "Too many failed attempts from your address" in _sign_in_page(
                    url, "alice-pass"
                )
            for server in servers:
                assert "CACHE_URL is not set" not in server.log_path.read_text()
        finally:
            for server in servers:
                server.stop()
