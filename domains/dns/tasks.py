"""DNS tasks: thin and idempotent; the work is in domains.dns.housekeeping. Each takes
numbers and writes through services in the "task" audit channel.

Verifying one domain now is a job (api.jobs, run by api.tasks.run_job): pages and the API
start one and poll it, so it has no task of its own here.
"""

import logging

from django.db import OperationalError

from audit.services import audit_channel
from domains.dns import claims
from domains.dns.housekeeping import housekeeping_run
from domains.dns.policy import DnsPolicy
from serweb.celery import app

logger = logging.getLogger(__name__)


# A database that is briefly away is worth waiting for; DNS failures are not errors (they
# are "unknown" verdicts, which change nothing).
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 30, "max_retries": 5}


@app.task(ignore_result=True, acks_late=True, **RETRY)
def housekeeping(slot: int | None = None, slots: int | None = None) -> int | None:
    """Re-verify one slot of the domains; by default the slot of the current time, so the
    beat schedule spreads every domain once over the check interval."""
    with audit_channel("task"):
        run = housekeeping_run(slot=slot, slots=slots)
    if run is None:
        logger.info("housekeeping slot %s/%s is running already", slot, slots)
        return None
    return run.pk


@app.task(ignore_result=True, acks_late=True, **RETRY)
def claims_retry() -> int:
    """Drop the claims left unproven past their expiry, check the waiting ones again."""
    with audit_channel("task"):
        return claims.claims_retry()


@app.task(ignore_result=True)
def reverify_all(slices: int | None = None) -> int:
    """Re-verify every domain now: one housekeeping task per slice, so the workers share
    the work (bounded DNS concurrency inside each). Returns the number of slices queued.
    ``housekeeping --queue`` calls it."""
    slices = slices or DnsPolicy.from_settings().slots
    for slot in range(slices):
        housekeeping.delay(slot=slot, slots=slices)
    return slices


# The name the housekeeping task had before the DNS modules became a package. A message
# queued under it before an upgrade (by beat, or a retry) is forwarded, not dropped as
# unregistered.
@app.task(name="domains.dns_tasks.housekeeping", ignore_result=True)
def housekeeping_queued_as_dns_tasks(slot: int | None = None, slots: int | None = None) -> None:
    housekeeping.delay(slot=slot, slots=slots)
