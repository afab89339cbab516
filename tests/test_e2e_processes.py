"""serweb as deploy/ runs it: the web under gunicorn, two Celery workers and Celery beat,
each a process of its own with production settings from the environment, on PostgreSQL
and Redis, in front of a real Kamailio.

A domain created on the operator's page goes live in Kamailio through a worker's reload;
beat queues the periodic drift check, which a worker runs and which repairs a proxy
holding stale data; and under a burst of changes from the API and reload tasks queued at
once, the two workers never have two reloads of one proxy in flight.
"""

import http.client
import json
import os
import threading
import time

import pytest
from celery import Celery
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from api.services import token_create
from domains.models import Domain
from proxies import reload
from proxies.generation import desired_generation
from proxies.models import Proxy, ReloadState
from proxies.services import proxy_create
from tests.helpers import database_url
from tests.kamailio_harness import (
    Kamailio,
    proxy_login,
    redis_reachable,
    scratch_dir,
    wait_until,
)
from tests.process_harness import (
    PortalClient,
    RpcRecorder,
    beat_process,
    overlapping,
    serweb_env,
    web_process,
    worker_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("SERWEB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_URL = os.environ.get("SERWEB_TEST_CACHE_URL", "redis://127.0.0.1:6379/1")
# The shortest drift-check period the settings allow.
DRIFT_SECONDS = 10
# A stream of changes gets a reload per this many seconds (SERWEB_RELOAD_MAX_WAIT), so a
# burst of a few seconds has several, each raced for by both workers.
MAX_WAIT = 1
RELOAD_TASK = "proxies.tasks.reload_proxy"


class Stack:
    def __init__(self, kamailio, web, port, workers, beat, queue):
        self.kamailio = kamailio
        self.web = web
        self.port = port
        self.workers = workers
        self.beat = beat
        self.queue = queue

    def explain(self) -> str:
        parts = [f"--- {p.name}\n{p.log_tail()}" for p in (self.web, *self.workers, self.beat)]
        return "\n".join(parts + [f"--- kamailio\n{self.kamailio.log_tail()}"])


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    if not redis_reachable():
        pytest.fail("these tests need Redis on 127.0.0.1:6379 as Celery's broker")
    queue = f"serweb-processes-{os.getpid()}"
    with (
        scratch_dir("serweb-processes-") as directory,
        proxy_login(django_db_blocker, "serweb_processes") as (kamailio_url, _where),
    ):
        (directory / "kamailio").mkdir()
        kamailio = Kamailio(directory / "kamailio", kamailio_url)
        kamailio.start()
        env = serweb_env(
            directory,
            database_url=database_url(),
            broker_url=REDIS_URL,
            queue=queue,
            CACHE_URL=CACHE_URL,
            CACHE_KEY_PREFIX=queue,
            SERWEB_DRIFT_CHECK_SECONDS=str(DRIFT_SECONDS),
            SERWEB_RELOAD_MAX_WAIT=str(MAX_WAIT),
        )
        web, port = web_process(directory, env)
        workers = [worker_process(directory, env, name) for name in ("worker1", "worker2")]
        beat = beat_process(directory, env)
        started = []
        try:
            for process in (web, *workers, beat):
                started.append(process.start())
            yield Stack(kamailio, web, port, workers, beat, queue)
        finally:
            for process in reversed(started):
                process.stop()
            kamailio.stop()


def caught_up(proxy: Proxy) -> bool:
    proxy.refresh_from_db()
    return proxy.applied_generation == desired_generation() and proxy.reloading_since is None


def proxy_of(kamailio: Kamailio, name: str, transport: str, address: str) -> Proxy:
    """The running Kamailio as serweb's proxy ``name``, reloaded to this test's data."""
    proxy = proxy_create(
        actor=None,
        name=name,
        transport=transport,
        address=address,
        sip_address=kamailio.sip_address,
    )
    assert reload.proxy_reload(proxy.pk, force=True).status == reload.Status.APPLIED
    return proxy


def sign_in_alice(stack: Stack, alice) -> PortalClient:
    # The web runs production settings, whose hashers do not read the tests' fast one.
    alice.password = PBKDF2PasswordHasher().encode("alice-pass", "processestestsalt")
    alice.save(update_fields=["password"])
    portal = PortalClient(stack.port)
    portal.sign_in("alice", "alice-pass")
    return portal


def test_a_domain_created_on_the_portal_goes_live_and_beat_runs_the_drift_check(stack, alice):
    kamailio = stack.kamailio
    proxy = proxy_of(kamailio, "kam", "fifo", kamailio.fifo)
    portal = sign_in_alice(stack, alice)
    name = "portal.processes.test"
    assert kamailio.serves(name) is None

    status, location, page = portal.post_form(
        "/domains/new/",
        {"name": name, "aliases": f"sip.{name}", "did": "", "tenant": "", "enabled": "on"},
    )
    committed = time.monotonic()

    assert status == 302, f"{status}\n{page[:800]}"
    assert location == f"/domain/{name}/"
    generation = desired_generation()
    assert Domain.objects.filter(did=name, enabled=True).exists()
    wait_until(
        lambda: kamailio.serves(name) == name, timeout=20, what=f"{name} live\n{stack.explain()}"
    )
    print(f"portal to live in Kamailio: {time.monotonic() - committed:.2f} s")
    assert kamailio.serves(f"sip.{name}") == name
    wait_until(lambda: caught_up(proxy), timeout=10, what="the applied generation recorded")
    assert proxy.applied_generation >= generation and proxy.last_reload_at is not None
    # The reload was a worker's (the web has a broker: nothing runs in its requests).
    assert any(f"{RELOAD_TASK}[" in worker.log_text() for worker in stack.workers)
    status, _location, page = portal.request("GET", location)
    assert status == 200 and name in page

    # Stale data behind serweb's back (SQL: no signal, no generation): only the periodic
    # drift check, queued by beat and run by a worker, finds and repairs it.
    Domain.objects.filter(did=name).update(enabled=False)
    assert kamailio.serves(name) == name
    wait_until(
        lambda: kamailio.serves(name) is None,
        timeout=3 * DRIFT_SECONDS + 10,
        what=f"the drift check's repair\n{stack.explain()}",
    )
    assert "Sending due task proxy-drift-check" in stack.beat.log_text()
    assert any("proxies.tasks.proxy_drift_check[" in w.log_text() for w in stack.workers)
    proxy.refresh_from_db()
    assert f"{name} is served as {name}, expected nothing" in proxy.last_error


def fill_domains(count: int) -> None:
    """Domains of two names each, in SQL: a reload that takes Kamailio a while."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO domains_domain (did, state, enabled, origin)
               SELECT 'f' || i || '.processes.test', 'active', true, 'operator'
               FROM generate_series(1, %s) i""",
            [count],
        )
        cursor.execute(
            """INSERT INTO domains_domainname (domain_id, name, kind, is_canonical)
               SELECT id, did, 'hostname', true FROM domains_domain
               UNION ALL SELECT id, 'sip.' || did, 'hostname', false FROM domains_domain"""
        )


def api_create(port: int, key: str, names: list[str]) -> list[int]:
    statuses = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        for name in names:
            connection.request("POST", "/api/v1/domains/", json.dumps({"name": name}), headers)
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
            time.sleep(0.1)  # a stream of changes rather than one moment
    finally:
        connection.close()
    return statuses


def queue_reloads(queue: str, proxy_id: int, count: int) -> None:
    """Reload tasks for one proxy straight on the queue, as a redelivered message or a
    second installation's schedule would put them there."""
    sender = Celery("serweb-test-sender", broker=REDIS_URL, set_as_current=False)
    try:
        for _ in range(count):
            sender.send_task(RELOAD_TASK, args=[proxy_id], queue=queue)
            time.sleep(0.15)
    finally:
        sender.close()


def test_two_workers_never_have_two_reloads_of_one_proxy_in_flight(stack, alice):
    kamailio = stack.kamailio
    # The generation's row, as the migrations leave it (the flush after a test removes it;
    # the first changes of the burst would race to create it).
    ReloadState.objects.get_or_create(pk=1)
    fill_domains(10_000)
    recorder = RpcRecorder(kamailio.http_rpc)
    try:
        proxy = proxy_of(kamailio, "relayed", "http", recorder.url)
        [first] = recorder.of("domain.reload")
        print(f"domain.reload of 10,000 domains: {first.ended - first.started:.3f} s")
        recorder.clear()
        logged_before = kamailio.reloads_logged()
        worker_logs_before = [len(worker.log_text()) for worker in stack.workers]
        _token, key = token_create(actor=None, user=alice, name="burst")

        # A burst: four API clients creating domains through the web, and reload tasks
        # queued straight for the same proxy, so both workers hold some at once.
        names = [[f"burst{c}-{i}.processes.test" for i in range(15)] for c in range(4)]
        results: dict[int, list[int]] = {}
        threads = [
            threading.Thread(
                target=lambda c=c: results.__setitem__(c, api_create(stack.port, key, names[c]))
            )
            for c in range(4)
        ]
        threads.append(threading.Thread(target=queue_reloads, args=(stack.queue, proxy.pk, 12)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all(statuses == [201] * 15 for statuses in results.values()), results

        wait_until(
            lambda: caught_up(proxy),
            timeout=60,
            interval=0.2,
            what=f"the proxy caught up after the burst\n{stack.explain()}",
        )
        time.sleep(1)  # a reload the last retries may still send is in every count below
        reloads = recorder.of("domain.reload")
        print(
            f"{len(reloads)} reloads, "
            + ", ".join(f"{c.ended - c.started:.2f} s" for c in reloads)
            + "; gaps "
            + ", ".join(
                f"{b.started - a.ended:.2f} s" for a, b in zip(reloads, reloads[1:], strict=False)
            )
        )
    finally:
        recorder.close()

    assert len(reloads) >= 2
    assert overlapping(reloads) == []
    # Every reload Kamailio did came through the recorder, and serweb counted each one.
    assert kamailio.reloads_logged() - logged_before == len(reloads)
    # Both workers took reload tasks of this proxy.
    for worker, before in zip(stack.workers, worker_logs_before, strict=True):
        assert f"{RELOAD_TASK}[" in worker.log_text()[before:], worker.name
    assert all(kamailio.serves(n) == n for group in names for n in (group[0], group[-1]))
