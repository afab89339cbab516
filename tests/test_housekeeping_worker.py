"""The DNS tasks on a real Celery worker, with this machine's Redis as the broker."""

import os
import uuid

import pytest
from celery import Celery
from django.db import connection

from api.models import Job
from domains import services
from domains.models import DomainCheck, DomainState, HousekeepingRun
from tests import dns_harness
from tests.dns_harness import PROXY_ADDRESSES, PROXY_HOSTNAMES
from tests.kamailio_harness import CeleryWorker, redis_reachable, wait_until

knot = dns_harness.knot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("SERWEB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def worker(knot, tmp_path, monkeypatch):
    if not redis_reachable():
        pytest.fail("these tests need Redis on 127.0.0.1:6379 as Celery's broker")
    # The worker reads its settings from the environment, as in production.
    for name, value in {
        "SERWEB_DNS_NAMESERVERS": knot.nameserver,
        "SERWEB_DNS_AUTHORITY_PORT": str(knot.port),
        "SERWEB_PROXY_HOSTNAMES": ",".join(PROXY_HOSTNAMES),
        "SERWEB_PROXY_ADDRESSES": ",".join(PROXY_ADDRESSES),
        "SERWEB_DNS_TIMEOUT_MS": "200",
        "SERWEB_DNS_LIFETIME_MS": "400",
    }.items():
        monkeypatch.setenv(name, value)
    db = connection.settings_dict
    database_url = (
        f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )
    running = CeleryWorker(
        tmp_path,
        broker_url=REDIS_URL,
        database_url=database_url,
        queue=f"serweb-dns-{uuid.uuid4().hex[:12]}",
    )
    running.start()
    yield running
    running.stop()


def send(worker: CeleryWorker, task: str, **kwargs) -> None:
    # Not the current app: shared tasks (the reload ones) must keep running on serweb's.
    sender = Celery("serweb-test-sender", broker=REDIS_URL, set_as_current=False)
    try:
        sender.send_task(task, queue=worker.queue, **kwargs)
    finally:
        sender.close()


def test_a_worker_verifies_a_domain_and_runs_housekeeping(worker, knot, alice):
    kept = knot.unique("w")
    knot.srv(kept, PROXY_HOSTNAMES[0])
    lost = knot.unique("w")
    knot.add(lost, "TXT", '"no sip"')
    kept_domain = services.domain_create(actor=alice, name=kept, state=DomainState.PENDING)
    lost_domain = services.domain_create(actor=alice, name=lost)

    # "Verify now" from a page or the API is a job, run by the worker.
    job = Job.objects.create(
        user=alice, kind=Job.Kind.VERIFY_DOMAIN, target_id=kept_domain.pk, target=kept
    )
    send(worker, "api.tasks.run_job", args=[job.pk])
    wait_until(
        lambda: DomainCheck.objects.filter(domain=kept_domain, verdict="ours").exists(),
        timeout=20,
        what=f"the worker's verification of {kept}",
    )
    kept_domain.refresh_from_db()
    assert kept_domain.state == DomainState.ACTIVE

    # Queued under the task's name of before the DNS package: forwarded to the new one.
    send(worker, "domains.dns_tasks.housekeeping", kwargs={"slot": 0, "slots": 1})
    wait_until(
        lambda: HousekeepingRun.objects.filter(status="completed").exists(),
        timeout=20,
        what="the worker's housekeeping run",
    )
    run = HousekeepingRun.objects.get(status="completed")
    assert run.checked == 2
    lost_domain.refresh_from_db()
    assert lost_domain.state == DomainState.SUSPECT
