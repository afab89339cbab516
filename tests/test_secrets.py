"""Secrets stay secret at rest and in every page.

Secrets are made through every way in (API, commands, services, bulk import, the admin);
then every text of every table and every log line is searched for them. They may only be
where they must: a subscriber's HA1 hashes in its row, a clear password only when
SERWEB_STORE_CLEAR_PASSWORDS asks for it, a token only as the SHA-256 of its secret. No
page or API list may filter, search or sort by a secret, which would make it an oracle."""

import hashlib
import logging
import secrets
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from api.models import Job
from api.services import token_create
from audit.models import AuditEntry
from domains.models import Domain
from serweb.admin import FilterLookupsOnly
from subscribers import digest
from subscribers.models import Subscriber
from subscribers.services import (
    subscriber_clear_passwords_forget,
    subscriber_create,
    user_alias_add,
)
from subscribers.tasks import forget_clear_passwords
from tests.api_helpers import client_for, world  # noqa: F401
from tests.test_cli import run

# Every column that holds a password equivalent, by model.
SECRET_FIELDS = {
    "subscribers.subscriber": {"ha1", "ha1b", "password"},
    "api.apitoken": {"key_hash"},
    # A second factor's TOTP secret and recovery codes.
    "mfa.authenticator": {"data"},
    get_user_model()._meta.label_lower: {"password"},
}
SECRET_NAMES = set().union(*SECRET_FIELDS.values())


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@operator.test", "root-login-pw")


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


def database_texts() -> dict[str, list[str]]:
    """Every value of every column of every table, as text, by "table.column"."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.table_schema, c.table_name, c.column_name"
                " FROM information_schema.columns c JOIN information_schema.tables t"
                " USING (table_schema, table_name)"
                " WHERE t.table_type = 'BASE TABLE'"
                " AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            columns = [(f'"{s}"."{t}"', t, c) for s, t, c in cursor.fetchall()]
            cast = "{}::text"
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = [table for (table,) in cursor.fetchall()]
            columns = []
            for table in tables:
                cursor.execute(f'PRAGMA table_info("{table}")')
                columns += [(f'"{table}"', table, row[1]) for row in cursor.fetchall()]
            cast = "CAST({} AS TEXT)"
        texts = {}
        for relation, table, column in columns:
            quoted = connection.ops.quote_name(column)
            cursor.execute(f"SELECT {cast.format(quoted)} FROM {relation}")
            texts[f"{table}.{column}"] = [value for (value,) in cursor.fetchall() if value]
    return texts


def where(secret: str, texts: dict[str, list[str]]) -> set[str]:
    return {column for column, values in texts.items() if any(secret in v for v in values)}


def make_secrets_everywhere(
    tmp_path: Path, alice, bob_domain: Domain, admin_client, on_commit
) -> dict:
    """Passwords and tokens through every way in; returns the clear secrets made."""
    passwords = {
        "api-create-pw-1",
        "api-patch-pw-2",
        "cli-add-pw-3",
        "cli-passwd-pw-4",
        "service-pw-5",
        "import-pw-6",
        "import-pw-7",
        "portal-pw-10",
    }
    api = client_for(alice)
    base = "/api/v1/domains/bob.example/subscribers/"
    for key in ("sub-1", "sub-1"):  # a retry, replayed
        api.post(
            base,
            {"username": "apiuser", "password": "api-create-pw-1"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    api.patch(f"{base}apiuser/", {"password": "api-patch-pw-2"}, format="json")
    keys = set()
    for key in ("tok-1", "tok-1"):  # the retry's answer is the first one without the key
        answer = api.post(
            "/api/v1/tokens/", {"name": "api"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        keys.add(answer.json()["key"])
    keys = [key for key in keys if key]

    assert (
        run(
            "subscriber", "add", "cliuser@bob.example", "--password-stdin", stdin="cli-add-pw-3\n"
        ).code
        == 0
    )
    assert (
        run("subscriber", "passwd", "cliuser@bob.example", "--password", "cli-passwd-pw-4").code
        == 0
    )
    created = run("token", "create", "alice", "--name", "cli")
    assert created.code == 0
    keys.append(created.out.strip())

    subscriber_create(actor=alice, domain=bob_domain, username="svcuser", password="service-pw-5")
    keys.append(token_create(actor=alice, user=alice, name="service")[1])

    rows = tmp_path / "subscribers.csv"
    rows.write_text(
        "username,domain,password\nimp1,bob.example,import-pw-6\nimp2,bob.example,import-pw-7\n",
        encoding="utf-8",
    )
    assert run("import", "subscribers", str(rows)).code == 0
    given = {"ha1": secrets.token_hex(16), "ha1b": secrets.token_hex(16)}
    hashes = tmp_path / "hashes.csv"
    hashes.write_text(
        f"username,domain,ha1,ha1b\nimp3,bob.example,{given['ha1']},{given['ha1b']}\n",
        encoding="utf-8",
    )
    assert run("import", "subscribers", str(hashes)).code == 0

    # The portal's import: a file with a good row and a refused one, previewed and run.
    portal = Client()
    portal.force_login(alice)
    upload = SimpleUploadedFile(
        "s.csv",
        b"username,domain,password\nimp4,bob.example,portal-pw-10\nimp5,nowhere.example,"
        b"portal-pw-11\n",
    )
    preview = portal.post("/import/", {"kind": "subscribers", "file": upload})
    assert preview.status_code == 302, preview.content
    assert portal.get(preview.url).status_code == 200
    with on_commit(execute=True):
        job = portal.post(f"{preview.url}run/")
    assert Job.objects.get().result["rows_refused"] == 1
    bad_rows = b"".join(portal.get(f"{job.url}bad-rows.csv").streaming_content).decode()
    assert "nowhere.example" in bad_rows

    added = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "dora",
            "usable_password": "true",
            "password1": "admin-add-pw-8x!",
            "password2": "admin-add-pw-8x!",
        },
    )
    assert added.status_code == 302, added.content
    dora = get_user_model().objects.get(username="dora")
    changed = admin_client.post(
        f"/admin/auth/user/{dora.pk}/password/",
        {"password1": "admin-change-pw-9x!", "password2": "admin-change-pw-9x!"},
    )
    assert changed.status_code == 302, changed.content
    logins = {"admin-add-pw-8x!", "admin-change-pw-9x!", "root-login-pw", "alice-pass"}
    pages = (bad_rows, portal.get(job.url).text, portal.get(preview.url).text)
    return {"passwords": passwords, "logins": logins, "keys": keys, "pages": pages}


def admin_pages(admin_client) -> str:
    urls = ["/admin/subscribers/subscriber/", "/admin/subscribers/useralias/", "/admin/"]
    urls += ["/admin/audit/auditentry/", "/admin/auth/user/", "/admin/domains/domain/"]
    urls += [
        f"/admin/subscribers/subscriber/{pk}/change/"
        for pk in Subscriber.objects.values_list("pk", flat=True)
    ]
    urls += [
        f"/admin/auth/user/{pk}/change/"
        for pk in get_user_model().objects.values_list("pk", flat=True)
    ]
    pages = []
    for url in urls:
        page = admin_client.get(url)
        assert page.status_code == 200, url
        pages.append(page.content.decode())
    return "\n".join(pages)


@pytest.mark.parametrize("store_clear", [False, True], ids=["hashes-only", "clear-kept"])
def test_secrets_are_kept_only_where_they_must_be(
    tmp_path,
    alice,
    world,  # noqa: F811
    admin_client,
    settings,
    caplog,
    store_clear,
    django_capture_on_commit_callbacks,
):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = store_clear
    settings.VAR_DIR = tmp_path / "var"
    caplog.set_level(logging.DEBUG)
    made = make_secrets_everywhere(
        tmp_path, alice, world["bob_domain"], admin_client, django_capture_on_commit_callbacks
    )
    texts = database_texts()
    logs = caplog.text
    pages = "\n".join([admin_pages(admin_client), *made["pages"]])

    # The uploaded file went with its job.
    assert list((tmp_path / "var" / "imports").iterdir()) == []
    # The refused row's password is nowhere: not in the job's result, not handed back.
    assert where("portal-pw-11", texts) == set()
    assert "portal-pw-11" not in logs and "portal-pw-11" not in pages
    subscribers = list(Subscriber.objects.all())
    assert len(subscribers) == 8
    for subscriber in subscribers:
        assert where(subscriber.ha1, texts) == {"subscribers_subscriber.ha1"}
        assert where(subscriber.ha1b, texts) == {"subscribers_subscriber.ha1b"}
        assert subscriber.ha1 not in logs and subscriber.ha1 not in pages
        assert subscriber.ha1b not in logs and subscriber.ha1b not in pages
    sam = world["sam"]
    assert sam.ha1 == digest.ha1("sam", "bob.example", "sam-secret")

    kept = {"subscribers_subscriber.password"} if store_clear else set()
    for password in made["passwords"]:
        expected = kept if password not in ("api-create-pw-1", "cli-add-pw-3") else set()
        assert where(password, texts) == expected, password
        assert password not in logs and password not in pages
    for password in made["logins"]:
        assert where(password, texts) == set(), password
        assert password not in logs

    assert len(made["keys"]) == 3
    for key in made["keys"]:
        prefix, _, secret = key.partition(".")
        assert where(secret, texts) == set(), key
        assert where(hashlib.sha256(secret.encode()).hexdigest(), texts) == {
            "api_apitoken.key_hash"
        }
        assert secret not in logs and secret not in pages


# --- clear passwords kept while the setting was on --------------------------------------------


@pytest.fixture
def kept_passwords(alice, world, settings):  # noqa: F811
    """Three subscribers of bob.example created while clear passwords were kept; the
    setting turned off since."""
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    for name in ("ann", "ben", "cid"):
        subscriber_create(
            actor=alice, domain=world["bob_domain"], username=name, password=f"{name}-password"
        )
    settings.SERWEB_STORE_CLEAR_PASSWORDS = False
    return [f"{name}-password" for name in ("ann", "ben", "cid")]


def _forget_entries():
    return AuditEntry.objects.filter(action="subscriber.clear_passwords_forget")


def test_clear_passwords_are_forgotten_once_the_setting_is_off(kept_passwords):
    hashes = dict(Subscriber.objects.values_list("username", "ha1"))

    assert subscriber_clear_passwords_forget(actor=None) == 3

    texts = database_texts()
    for password in kept_passwords:
        assert where(password, texts) == set(), password
    # The hashes stay: the subscribers still authenticate.
    assert dict(Subscriber.objects.values_list("username", "ha1")) == hashes
    [entry] = _forget_entries()
    assert entry.after == {"clear_passwords_forgotten": 3} and entry.actor_name == "system"
    # Idempotent: nothing left, no entry more.
    assert subscriber_clear_passwords_forget(actor=None) == 0
    assert _forget_entries().count() == 1


def test_clear_passwords_are_kept_while_the_setting_is_on(kept_passwords, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True

    assert subscriber_clear_passwords_forget(actor=None) == 0
    assert sorted(Subscriber.objects.exclude(password="").values_list("password", flat=True)) == (
        kept_passwords
    )
    assert not _forget_entries().exists()


def test_beat_forgets_clear_passwords(kept_passwords, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["subscribers-forget-clear-passwords"]
    assert entry["task"] == forget_clear_passwords.name

    assert forget_clear_passwords.apply().get() == 3
    assert not Subscriber.objects.exclude(password="").exists()
    assert _forget_entries().get().channel == "task"


def test_the_housekeeping_command_forgets_clear_passwords(kept_passwords):
    outcome = run("housekeeping", "--all")

    assert "forgot the clear passwords of 3 subscriber(s)" in outcome.out
    assert not Subscriber.objects.exclude(password="").exists()
    assert _forget_entries().get().channel == "cli"


# --- no page or list is an oracle -------------------------------------------------------------


@pytest.fixture
def hashed(alice, world):  # noqa: F811
    """Four subscribers of bob.example (sam, ann, ben, cid), an alias to ann; ann."""
    domain = world["bob_domain"]
    for name in ("ann", "ben", "cid"):
        subscriber_create(actor=alice, domain=domain, username=name, password=f"{name}-password")
    user_alias_add(
        actor=alice,
        domain=domain,
        username="200",
        subscriber=Subscriber.objects.get(username="ann"),
    )
    return Subscriber.objects.get(username="ann")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/subscribers/subscriber/?ha1__startswith={ha1_first}",
        "/admin/subscribers/subscriber/?ha1={ha1}",
        "/admin/subscribers/subscriber/?ha1__exact={ha1}",
        "/admin/subscribers/subscriber/?ha1b__startswith={ha1_first}",
        "/admin/subscribers/subscriber/?ha1__gte={ha1}",
        "/admin/subscribers/subscriber/?ha1__regex=^{ha1_first}",
        "/admin/subscribers/subscriber/?password__startswith=a",
        "/admin/subscribers/subscriber/?enabled__exact=1&ha1__startswith={ha1_first}",
        "/admin/subscribers/useralias/?subscriber__ha1__startswith={ha1_first}",
        "/admin/domains/domain/?subscribers__ha1__startswith={ha1_first}",
        "/admin/auth/user/?password__startswith=md5",
        "/admin/auth/group/?user__password__startswith=md5",
        "/admin/auth/user/?api_tokens__key_hash__startswith=a",
    ],
)
def test_the_admin_refuses_lookups_on_secrets(admin_client, hashed, url):
    page = admin_client.get(url.format(ha1=hashed.ha1, ha1_first=hashed.ha1[0]))
    assert page.status_code == 400
    assert b"ann" not in page.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/subscribers/subscriber/?enabled__exact=1",
        "/admin/domains/domain/?state__exact=active&enabled__exact=1",
        "/admin/auth/user/?is_staff__exact=1&groups__id__exact=1",
        "/admin/audit/auditentry/?channel__exact=api",
        "/admin/subscribers/subscriber/?o=1",
    ],
)
def test_the_admin_filters_still_work(admin_client, hashed, url):
    assert admin_client.get(url).status_code == 200


def test_the_admin_search_does_not_look_at_hashes(admin_client, hashed):
    page = admin_client.get(f"/admin/subscribers/subscriber/?q={hashed.ha1}")
    assert page.status_code == 200
    assert b"0 subscribers" in page.content


def test_every_admin_takes_only_its_filters_and_names_no_secret(admin_client):
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, FilterLookupsOnly), model
        named = [
            *model_admin.list_filter,
            *model_admin.search_fields,
            *(model_admin.ordering or ()),
            *model_admin.list_display,
            *(model_admin.sortable_by or ()),
            model_admin.date_hierarchy or "",
        ]
        for name in named:
            if isinstance(name, str):
                parts = set(name.lstrip("-^=@").split("__"))
                assert not parts & SECRET_NAMES, f"{model_admin}: {name}"


def _api_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            yield prefix + str(pattern.pattern), pattern.callback.cls


def test_no_api_list_filters_searches_or_sorts_by_a_secret():
    views = [(url, view) for url, view in _api_views(get_resolver().url_patterns) if "api/" in url]
    assert len(views) > 20
    for url, view in views:
        named = [
            *(getattr(view, "filterset_fields", None) or ()),
            *(getattr(view, "search_fields", None) or ()),
            *(getattr(view, "ordering", None) or ()),
        ]
        ordering_fields = getattr(view, "ordering_fields", None)
        assert ordering_fields != "__all__", url
        named += list(ordering_fields or ())
        filterset = getattr(view, "filterset_class", None)
        if filterset is not None:
            named += [f.field_name for f in filterset.base_filters.values()]
        for name in named:
            assert not set(name.lstrip("-^=@").split("__")) & SECRET_NAMES, f"{url}: {name}"


def test_the_api_ignores_secret_filters_search_and_sorting(alice, hashed):
    api = client_for(alice)
    base = "/api/v1/domains/bob.example/subscribers/"
    usual = [s["username"] for s in api.get(base).json()["results"]]
    assert usual == ["sam", "ann", "ben", "cid"]
    # One of the two HA1 orders differs from the usual one.
    for query in ("?ordering=ha1", "?ordering=-ha1", "?ordering=password", f"?ha1={hashed.ha1}"):
        assert [s["username"] for s in api.get(base + query).json()["results"]] == usual, query
    assert api.get(f"{base}?search={hashed.ha1}").json()["results"] == []
    assert api.get(f"{base}?search={hashed.ha1[:4]}").json()["results"] == []
