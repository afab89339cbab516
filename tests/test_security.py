"""What a deployment sends browsers and how it checks: HTTPS only, cookies that stay on
it, HSTS, a Content-Security-Policy every page keeps (the browser tests fail on anything
it blocks), no framing; `check --deploy` clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def deployment_settings(**changes: str) -> dict[str, str]:
    """The settings a deployment would have, read from the environment in a new process."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SERWEB_", "DJANGO_", "DEBUG", "SECRET_KEY", "CACHE_URL"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="serweb.settings",
        DATABASE_URL=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/x",
        SECRET_KEY="a-deployment-key-" + "x" * 40,
        CACHE_URL="redis://127.0.0.1:6379/1",
        ALLOWED_HOSTS="sip.example.net",
        SERWEB_ENV_FILE="/nonexistent",
        **changes,
    )
    return environment


def read_settings(*names: str, **changes: str) -> list[str]:
    code = "from django.conf import settings\n" + "".join(
        f"print(repr(settings.{name}))\n" for name in names
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env=deployment_settings(**changes),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_deployment_is_https_only():
    assert read_settings(
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "X_FRAME_OPTIONS",
    ) == ["True", "True", "True", "31536000", "True", "'DENY'"]


def test_plain_http_is_a_choice_of_the_operator():
    assert read_settings(
        "SESSION_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", SERWEB_HTTPS="0"
    ) == ["False", "False", "0"]


def test_the_forwarded_scheme_is_believed_only_through_trusted_proxies():
    assert read_settings("SECURE_PROXY_SSL_HEADER", SERWEB_HTTP_PROXIES="1") == [
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    ]
    result = read_settings("SECURE_PROXY_SSL_HEADER")
    assert result == ["None"]


def test_check_deploy_is_clean():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=deployment_settings(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/docs/", "/admin/login/"])
def test_every_page_carries_the_policy_and_refuses_framing(client: Client, db, path):
    answer = client.get(path)
    policy = answer["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"


def test_only_the_api_documentation_may_style_inline(client, db):
    assert "'unsafe-inline'" in client.get("/api/v1/docs/")["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/accounts/login/")["Content-Security-Policy"]


def test_the_proxy_and_the_monitoring_are_not_sent_to_https(settings, client, db):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/").status_code == 301
    assert client.get("/health").status_code == 200
    assert client.get("/proxy/lookup?host=x.example").status_code != 301
