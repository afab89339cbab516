"""DNS tasks: thin and idempotent; the work is in domains.verification and
domains.housekeeping. Each takes ids or numbers, re-fetches, and writes through services
in the "task" audit channel."""

import logging

from django.db import OperationalError

from audit.services import audit_channel
from domains.housekeeping import housekeeping_run
from domains.models import Domain
from domains.selectors import DomainNotFound
from domains.verification import DnsPolicy, domain_verify
from serweb.celery import app

logger = logging.getLogger(__name__)


# A database that is briefly away is worth waiting for; DNS failures are not errors (they
# are "unknown" verdicts, which change nothing).
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 30, "max_retries": 5}


@app.task(ignore_result=True, acks_late=True, **RETRY)
def verify_domain(domain_id: int) -> str | None:
    """Verify one domain now, without any cache, and apply what the answer calls for.

    Running it twice is harmless: a second negative inside the spacing interval is not
    counted, and a transition to the current state is no transition.
    """
    domain = Domain.objects.filter(pk=domain_id).first()
    if domain is None:
        return None
    with audit_channel("task"):
        try:
            result = domain_verify(domain=domain)
        except DomainNotFound:
            return None  # deleted during the check
    return str(result.verdict)


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


@app.task(ignore_result=True)
def reverify_all(slices: int | None = None) -> int:
    """Re-verify every domain now: one housekeeping task per slice, so the workers share
    the work (bounded DNS concurrency inside each). Returns the number of slices queued."""
    slices = slices or DnsPolicy.from_settings().slots
    for slot in range(slices):
        housekeeping.delay(slot=slot, slots=slices)
    return slices
