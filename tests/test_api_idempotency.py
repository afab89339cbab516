"""Idempotency-Key: one write per account and key, every retry the first answer, no secret
kept, expired answers purged.

The parallel tests send real concurrent requests, each thread with its own database
connection, against committed data (transactional_db)."""

import inspect
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from api.models import ApiToken, IdempotencyRecord
from api.services import IDEMPOTENCY_KEEP_FOR
from api.tasks import purge_idempotency_records
from audit.models import AuditEntry
from domains import services as domain_services
from domains.models import Domain
from serweb.celery import app as celery_app
from tests.api_helpers import client_for
from tests.helpers import in_parallel
from tests.test_cli import postgres_only


def clients(user, count: int) -> list[APIClient]:
    """``count`` clients with one token of ``user``: one per thread."""
    credentials = client_for(user)._credentials
    made = [APIClient() for _ in range(count)]
    for client in made:
        client.credentials(**credentials)
    return made


def post(client: APIClient, url: str, body, key: str):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def created_in_parallel(user, url: str, body: dict, key: str, count: int = 20) -> list:
    """One keyed POST sent by ``count`` clients at once; all must be 201."""
    each = clients(user, count)
    answers = in_parallel(count, lambda i: post(each[i], url, body, key))
    assert [a.status_code for a in answers] == [201] * count, [a.content for a in answers]
    return answers


@postgres_only
def test_parallel_retries_of_a_token_creation_make_one_token(alice, transactional_db):
    answers = created_in_parallel(alice, "/api/v1/tokens/", {"name": "billing"}, "token-once")
    bodies = [a.json() for a in answers]
    assert ApiToken.objects.filter(name="billing").count() == 1
    assert len({b["id"] for b in bodies}) == 1
    shown = [b for b in bodies if b["key"] is not None]
    assert len(shown) == 1 and shown[0]["key_already_shown"] is False
    replays = [a for a in answers if a.json()["key"] is None]
    assert len(replays) == 19
    assert all(a.headers["Idempotent-Replayed"] == "true" for a in replays)
    assert all(a.json()["key_already_shown"] is True for a in replays)
    assert {k: v for k, v in shown[0].items() if k not in ("key", "key_already_shown")} == {
        k: v for k, v in replays[0].json().items() if k not in ("key", "key_already_shown")
    }
    billing = APIClient()
    billing.credentials(HTTP_AUTHORIZATION=f"Bearer {shown[0]['key']}")
    assert billing.get("/api/v1/domains/").status_code == 200


@postgres_only
def test_parallel_domain_creates_with_one_key_all_get_the_first_answer(alice, transactional_db):
    answers = created_in_parallel(
        alice, "/api/v1/domains/", {"name": "once.example"}, "domain-once"
    )
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert Domain.objects.count() == 1
    assert AuditEntry.objects.filter(action="domain.create").count() == 1


def _held_domain_create(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """domain_create stops until ``release`` is set; ``entered`` says it got there."""
    entered, release = threading.Event(), threading.Event()
    real = domain_services.domain_create

    def held(**kwargs):
        entered.set()
        assert release.wait(30), "the test never released the first request"
        return real(**kwargs)

    monkeypatch.setattr(domain_services, "domain_create", held)
    return entered, release


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@postgres_only
def test_a_retry_while_the_first_runs_waits_for_its_answer(alice, transactional_db, monkeypatch):
    each = dict(zip(["first", "retry"], clients(alice, 2), strict=True))
    entered, release = _held_domain_create(monkeypatch)
    answers: dict[str, object] = {}

    def send(name: str) -> None:
        try:
            answers[name] = post(each[name], "/api/v1/domains/", {"name": "slow.example"}, "slow")
        finally:
            connections.close_all()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert entered.wait(10)
    retry = threading.Thread(target=send, args=("retry",))
    retry.start()
    deadline = time.monotonic() + 10
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _waiting_on_a_lock() == 1, "the retry should wait for the first request"
    assert "retry" not in answers
    release.set()
    first.join(30)
    retry.join(30)

    assert answers["first"].status_code == answers["retry"].status_code == 201
    assert answers["retry"].headers["Idempotent-Replayed"] == "true"
    assert answers["retry"].json() == answers["first"].json()
    assert Domain.objects.count() == 1


@postgres_only
def test_a_retry_waits_at_most_the_configured_time_then_gets_409(
    alice, transactional_db, monkeypatch, settings
):
    settings.SERWEB_IDEMPOTENCY_WAIT_SECONDS = 1
    client, other = clients(alice, 2)
    entered, release = _held_domain_create(monkeypatch)
    answers: dict[str, object] = {}

    def first() -> None:
        try:
            answers["first"] = post(other, "/api/v1/domains/", {"name": "slow.example"}, "slow")
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    try:
        busy = post(client, "/api/v1/domains/", {"name": "slow.example"}, "slow")
    finally:
        release.set()
        thread.join(30)

    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_key_in_use"
    assert busy.headers["Retry-After"] == "1"
    assert answers["first"].status_code == 201
    later = post(client, "/api/v1/domains/", {"name": "slow.example"}, "slow")
    assert later.status_code == 201 and later.headers["Idempotent-Replayed"] == "true"
    assert Domain.objects.count() == 1


def test_a_refused_request_leaves_the_key_free(alice):
    client = client_for(alice)
    refused = post(client, "/api/v1/domains/", {"name": "bad_label.example"}, "fix-and-retry")
    assert refused.status_code == 400
    assert "Idempotent-Replayed" not in refused.headers
    assert not IdempotencyRecord.objects.exists()
    fixed = post(client, "/api/v1/domains/", {"name": "good.example"}, "fix-and-retry")
    assert fixed.status_code == 201
    assert Domain.objects.get().did == "good.example"


def test_a_replayed_token_creation_withholds_the_key(alice):
    client = client_for(alice)
    first = post(client, "/api/v1/tokens/", {"name": "ci"}, "ci-token")
    again = post(client, "/api/v1/tokens/", {"name": "ci"}, "ci-token")

    assert first.status_code == again.status_code == 201
    key = first.json()["key"]
    assert key.startswith(first.json()["prefix"] + ".")
    assert first.json()["key_already_shown"] is False
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "key": None, "key_already_shown": True}
    assert ApiToken.objects.filter(name="ci").count() == 1
    stored = IdempotencyRecord.objects.get(key="ci-token")
    secret = key.partition(".")[2]
    assert secret not in str(stored.body) and stored.body["key"] is None


def test_the_schema_says_a_replay_withholds_the_key(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    created = schema["components"]["schemas"]["TokenCreatedOutput"]["properties"]
    assert created["key"]["nullable"] is True
    assert "replay" in created["key"]["description"]
    assert created["key_already_shown"]["type"] == "boolean"
    assert {"key", "key_already_shown"} <= set(
        schema["components"]["schemas"]["TokenCreatedOutput"]["required"]
    )


def _age(record: IdempotencyRecord, by: timedelta) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - by)


def _record(user, key: str) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        user=user, key=key, method="POST", path="/api/v1/x/", request_hash="0", status_code=201
    )


def test_the_beat_purges_expired_answers(alice):
    old, fresh = _record(alice, "old"), _record(alice, "fresh")
    _age(old, IDEMPOTENCY_KEEP_FOR + timedelta(minutes=1))
    entry = next(e for e in celery_app.conf.beat_schedule.values() if "idempotency" in e["task"])
    assert entry["task"] in celery_app.tasks

    celery_app.tasks[entry["task"]].apply()
    purge_idempotency_records.apply()  # running twice is harmless

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert fresh.pk


def test_without_a_broker_keyed_requests_purge_expired_answers(alice, bob, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    expired = _record(bob, "long-ago")
    _age(expired, IDEMPOTENCY_KEEP_FOR + timedelta(hours=1))
    post(client_for(alice), "/api/v1/domains/", {"name": "now.example"}, "now")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["now"]


def test_an_expired_key_may_be_used_again(alice):
    client = client_for(alice)
    assert post(client, "/api/v1/domains/", {"name": "a.example"}, "daily").status_code == 201
    _age(IdempotencyRecord.objects.get(key="daily"), IDEMPOTENCY_KEEP_FOR + timedelta(1))
    again = post(client, "/api/v1/domains/", {"name": "b.example"}, "daily")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert sorted(Domain.objects.values_list("did", flat=True)) == ["a.example", "b.example"]


def test_the_migration_forgets_token_keys_kept_before(alice, transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate([("api", "0002_jobs")])
    old_state = executor.loader.project_state([("api", "0002_jobs")])
    Record = old_state.apps.get_model("api", "IdempotencyRecord")
    kept = [
        ("k1", "/api/v1/tokens/", {"id": 1, "prefix": "abc", "key": "abc.the-secret-part"}),
        ("k2", "/api/v1/domains/", {"did": "x.example"}),
    ]
    for key, path, body in kept:
        Record.objects.create(
            user_id=alice.pk,
            key=key,
            method="POST",
            path=path,
            request_hash="0",
            status_code=201,
            body=body,
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    bodies = dict(IdempotencyRecord.objects.values_list("key", "body"))
    assert bodies == {
        "k1": {"id": 1, "prefix": "abc", "key": None, "key_already_shown": True},
        "k2": {"did": "x.example"},
    }


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_a_bad_key_is_a_400_naming_the_header(alice, key):
    answer = post(client_for(alice), "/api/v1/domains/", {"name": "k.example"}, key)
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"Idempotency-Key": ["give 1 to 255 characters"]}
    assert not Domain.objects.exists()


def _calls_idempotent(code) -> bool:
    """Whether a function's code, or a function defined in it, calls ``idempotent``."""
    return "idempotent" in code.co_names or any(
        _calls_idempotent(const) for const in code.co_consts if hasattr(const, "co_names")
    )


def test_the_schema_documents_the_key_on_every_post_that_takes_it(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    keyed, unkeyed = [], []
    for path, _regex, method, view in EndpointEnumerator().get_api_endpoints():
        if method != "POST":
            continue
        handler = inspect.unwrap(view.cls.post)
        path = path.replace("{pk}", "{id}")  # as the schema names a primary key
        operation = schema["paths"][path]["post"]
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        (keyed if "Idempotency-Key" in headers else unkeyed).append(path)
        assert ("Idempotency-Key" in headers) == _calls_idempotent(handler.__code__), path
    assert "/api/v1/domains/" in keyed and "/api/v1/claims/" in keyed
    assert "/api/v1/claims/{id}/verify/" in unkeyed


def test_a_post_without_the_key_in_its_schema_ignores_it(alice):
    client = client_for(alice)
    domain_services.domain_create(actor=alice, name="keyless.example")
    first = post(client, "/api/v1/domains/keyless.example/verify/", None, "same")
    again = post(client, "/api/v1/domains/keyless.example/verify/", None, "same")
    assert "Idempotent-Replayed" not in again.headers
    assert first.status_code in (200, 202) and again.status_code in (200, 202, 429)
