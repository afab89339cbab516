"""GET /health and GET /metrics: real parts asked (PostgreSQL, Redis, RabbitMQ, a real
Kamailio), a part that does not answer named within the deadline, only monitoring's
addresses served."""

import re
import time

import pytest
from django.test import Client

from domains.models import DomainName, DomainOrigin, DomainState, NameCheck
from domains.services import domain_create, domain_disable
from proxies.models import Proxy
from proxies.services import proxy_create
from tests.kamailio_harness import Kamailio, free_port, proxy_login, redis_reachable, scratch_dir

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/5"


@pytest.fixture
def monitor():
    return Client(raise_request_exception=False)


def health(client, **extra):
    started = time.monotonic()
    answer = client.get("/health", **extra)
    return answer, time.monotonic() - started


def test_a_serweb_without_broker_or_proxies_is_ok(monitor, db):
    answer, _took = health(monitor)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {
        "ok": True,
        "detail": "none configured: tasks run in the web process",
        "ms": body["checks"]["broker"]["ms"],
    }
    assert body["proxies"] == {}
    assert answer["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("broker", [RABBITMQ, REDIS], ids=["rabbitmq", "redis"])
def test_a_broker_that_answers_is_ok(monitor, db, settings, broker):
    if broker == REDIS and not redis_reachable():
        pytest.fail("Redis does not answer on 127.0.0.1:6379: scripts/services starts it")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = broker
    answer, _took = health(monitor)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["checks"]["broker"]["detail"] == "answers"


def test_a_broker_that_does_not_answer_takes_serweb_out_of_service(monitor, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port(0x1)}/0"
    answer, _took = health(monitor)
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "failing"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_a_shared_cache_is_written_and_read(monitor, db, settings):
    if not redis_reachable():
        pytest.fail("Redis does not answer on 127.0.0.1:6379: scripts/services starts it")
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}
    }
    answer, _took = health(monitor)
    assert answer.json()["checks"]["cache"] == {
        "ok": True,
        "detail": "answers",
        "ms": answer.json()["checks"]["cache"]["ms"],
    }


# The checks run in threads of their own, with connections of their own: what a test
# writes must be committed for them to see it.
def test_a_silent_proxy_is_named_within_the_deadline(monitor, transactional_db, alice, tmp_path):
    # A UDP address where nothing answers: the question goes out and no reply comes.
    proxy_create(actor=alice, name="silent", transport="udp", address=f"127.0.0.1:{free_port()}")
    proxy_create(actor=alice, name="gone", transport="fifo", address=str(tmp_path / "no.fifo"))
    answer, took = health(monitor)

    assert answer.status_code == 200  # serweb itself works
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["proxies"]["silent"]["ok"] is False
    assert body["proxies"]["gone"]["ok"] is False
    assert "does not exist" in body["proxies"]["gone"]["detail"]
    assert took < 1.5, f"the answer took {took:.2f} s"


@pytest.mark.postgres
def test_a_running_kamailio_is_ok(monitor, transactional_db, alice, django_db_blocker):
    with (
        scratch_dir("serweb-health-") as directory,
        proxy_login(django_db_blocker, "serweb_health") as (url, _where),
    ):
        kamailio = Kamailio(directory, url, reload_log=False)
        kamailio.start()
        try:
            proxy_create(actor=alice, name="edge", transport="udp", address=kamailio.udp_rpc)
            answer, _took = health(monitor)
        finally:
            kamailio.stop()
    body = answer.json()
    assert body["status"] == "ok", body
    assert re.fullmatch(r"up \d+ s", body["proxies"]["edge"]["detail"])


def test_other_clients_are_refused(monitor, db):
    for path in ("/health", "/metrics"):
        answer = monitor.get(path, REMOTE_ADDR="192.0.2.7")
        assert answer.status_code == 403
        assert "proxies" not in answer.content.decode()


def test_monitoring_addresses_come_from_the_settings(monitor, db, settings):
    settings.SERWEB_MONITORING_CLIENTS = ["192.0.2.0/24"]
    assert monitor.get("/health", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert monitor.get("/health").status_code == 403


def metric(body: str, name: str, **labels: str) -> float:
    """The one sample of ``name`` with exactly these labels."""
    found = []
    for line in body.splitlines():
        sample = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if sample is None or sample[1] != name:
            continue
        seen = dict(re.findall(r'(\w+)="([^"]*)"', sample[2] or ""))
        if seen == labels:
            found.append(float(sample[3]))
    [value] = found
    return value


def test_metrics_say_what_the_database_holds(monitor, alice, bob, tmp_path):
    for i in range(3):
        domain_create(actor=alice, name=f"m{i}.example.com", aliases=[f"192.0.2.{50 + i}"])
    domain_disable(actor=alice, domain=domain_create(actor=alice, name="off.example.com"))
    domain_create(
        actor=alice, name="wait.example.com", state=DomainState.PENDING, origin=DomainOrigin.TENANT
    )
    proxy_create(actor=alice, name="edge", transport="fifo", address=str(tmp_path / "x.fifo"))
    Proxy.objects.filter(name="edge").update(reload_count=7, failures=2, last_reload_seconds=0.25)
    for name, state in (
        ("m0.example.com", "disabled"),
        ("m1.example.com", "active"),
        ("192.0.2.50", "disabled"),  # an IP literal no longer one of the proxy addresses
        ("192.0.2.51", "active"),
    ):
        NameCheck.objects.create(name=DomainName.objects.get(name=name), state=state)

    answer = monitor.get("/metrics")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    body = answer.content.decode()
    assert metric(body, "serweb_domains", state="active", enabled="true") == 3
    assert metric(body, "serweb_domains", state="active", enabled="false") == 1
    assert metric(body, "serweb_domains", state="pending", enabled="true") == 1
    assert metric(body, "serweb_proxy_generations_behind", proxy="edge") >= 1
    assert metric(body, "serweb_proxy_reloads_total", proxy="edge") == 7
    assert metric(body, "serweb_proxy_failures", proxy="edge") == 2
    assert metric(body, "serweb_proxy_last_reload_seconds", proxy="edge") == 0.25
    assert metric(body, "serweb_claims_waiting") == 0
    assert metric(body, "serweb_dns_names", state="disabled", kind="hostname") == 1
    assert metric(body, "serweb_dns_names", state="active", kind="hostname") == 1
    assert metric(body, "serweb_dns_names", state="disabled", kind="ipv4") == 1
    assert metric(body, "serweb_dns_names", state="active", kind="ipv4") == 1
    assert "serweb_task_queue_depth" not in body  # no broker


def test_the_queue_depth_is_read_from_the_broker(monitor, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = RABBITMQ
    body = monitor.get("/metrics").content.decode()
    assert metric(body, "serweb_task_queue_depth") >= 0


def test_behind_a_trusted_reverse_proxy_the_forwarded_client_is_checked(monitor, db, settings):
    settings.SERWEB_HTTP_PROXIES = 1
    # nginx on the same host forwards for a client elsewhere: that client is refused...
    outside = monitor.get("/health", HTTP_X_FORWARDED_FOR="192.0.2.7")
    assert outside.status_code == 403
    # ...and what a client writes in the header itself is not believed.
    forged = monitor.get("/health", HTTP_X_FORWARDED_FOR="127.0.0.1, 192.0.2.7")
    assert forged.status_code == 403
    assert monitor.get("/health", HTTP_X_FORWARDED_FOR="192.0.2.7, 127.0.0.1").status_code == 200
