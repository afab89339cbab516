"""Log lines as production writes them: one JSON object each, naming the request (the id
the answer gives in X-Request-Id, also the audit group of its writes) and who made it; a
task names the request that queued it. (tests/conftest.py checks that no line of the whole
suite holds a secret a test created.)"""

import io
import json
import logging

import pytest
from django.test import Client

from audit.models import AuditEntry
from audit.services import audit_channel
from serweb.celery import app
from serweb.logging import JsonFormatter, RequestContext


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContext())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


@app.task(name="tests.test_logs.log_a_line")
def log_a_line(text: str) -> None:
    logging.getLogger("serweb.tests").warning("task says %s", text)


def test_a_line_is_one_json_object(lines):
    logging.getLogger("serweb.tests").warning("plain %s", "words")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("serweb.tests").exception("failed")
    first, second = lines()
    assert first["level"] == "WARNING" and first["logger"] == "serweb.tests"
    assert first["message"] == "plain words"
    assert first["request_id"] is None and first["user"] is None
    assert first["time"].endswith("Z")
    assert "ValueError: broken" in second["exception"]


def test_a_request_names_its_id_and_its_user(lines, alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    answer = client.get("/dashboard/nothing-here/")
    assert answer.status_code == 404
    [line] = [line for line in lines() if line["logger"] == "django.request"]
    assert line["request_id"] == answer["X-Request-Id"]
    assert line["user"] == "alice"
    assert line["status"] == 404


def test_the_request_id_is_the_audit_group_of_its_writes(lines, alice):
    client = Client()
    client.force_login(alice)
    answer = client.post("/domains/new/", {"name": "logs.example.com"})
    assert answer.status_code == 302
    entry = AuditEntry.objects.get(action="domain.create")
    assert str(entry.group) == answer["X-Request-Id"]


def test_a_task_names_the_request_that_queued_it(lines, db):
    with audit_channel("web") as request_id:
        log_a_line.delay("hello")
    [line] = [line for line in lines() if line["message"] == "task says hello"]
    assert line["request_id"] == str(request_id)


def test_a_queued_message_carries_the_request_id(db):
    from serweb.celery import _carry_request_id

    headers: dict = {}
    with audit_channel("api") as request_id:
        _carry_request_id(headers=headers)
    assert headers == {"serweb_request_id": str(request_id)}
    outside: dict = {}
    _carry_request_id(headers=outside)
    assert outside == {}
