"""Jobs: start DNS work from an API call, run it in a task, keep the outcome to poll."""

import json
import logging
import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

from api.exceptions import CheckTooSoon, django_validation_error, exception_handler
from api.imports import import_job_run
from api.models import Job
from audit.services import audit_channel
from domains.dns.claims import domain_claim_verify
from domains.dns.policy import DnsPolicy
from domains.dns.publish import domain_records
from domains.dns.records import RecordsReport, records_check
from domains.dns.verification import Verification, checked_names, domain_verify, ownership_token
from domains.models import Domain, DomainClaim
from domains.selectors import DomainNotFound
from domains.services import domain_lock
from proxies.models import Proxy
from proxies.outcome import outcome_text
from proxies.reload import proxy_reload

# The task that runs a job (api/tasks.py), queued by name: the task module imports this
# one, never the other way round.
RUN_JOB_TASK = "api.tasks.run_job"

logger = logging.getLogger(__name__)


@transaction.atomic
def job_start(*, actor: AbstractBaseUser, kind: str, target_id: int, target: str) -> Job:
    job = Job.objects.create(user=actor, kind=kind, target_id=target_id, target=target)
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def check_cooldown() -> timedelta:
    return timedelta(seconds=settings.SERWEB_CHECK_COOLDOWN_SECONDS)


def latest_check(kind: str, target_id: int) -> Job | None:
    return Job.objects.filter(kind=kind, target_id=target_id).order_by("-id").first()


def check_wait(job: Job | None, now: datetime | None = None) -> int:
    """Whole seconds until the target of ``job`` (its latest check) may be checked again."""
    if job is None:
        return 0
    left = job.created_at + check_cooldown() - (now or timezone.now())
    return max(0, math.ceil(left.total_seconds()))


@transaction.atomic
def dns_check_start(
    *, actor: AbstractBaseUser, claim: DomainClaim | None = None, domain: Domain | None = None
) -> Job:
    """Check a claim (its token, then its domain) or a domain in DNS now, as a job whose
    result says what each record looks like: at most once per SERWEB_CHECK_COOLDOWN_SECONDS
    for each, however many ask at once (the claim's or domain's row is locked while its
    latest check is looked at). Raises CheckTooSoon with the seconds left."""
    if claim is not None:
        locked = DomainClaim.objects.select_for_update().filter(pk=claim.pk).first()
        if locked is None:
            raise DomainClaim.DoesNotExist(f"the claim of {claim.name} does not exist any more")
        kind, target_id, target = Job.Kind.VERIFY_CLAIM, claim.pk, claim.name
    elif domain is not None:
        domain_lock(domain)
        kind, target_id, target = Job.Kind.VERIFY_DOMAIN, domain.pk, domain.did
    else:
        raise TypeError("a claim or a domain to check")
    wait = check_wait(latest_check(kind, target_id))
    if wait:
        raise CheckTooSoon(wait)
    return job_start(actor=actor, kind=kind, target_id=target_id, target=target)


def _enqueue(job_id: int) -> None:
    # Celery loads here, when a job is queued, not at every command's start.
    from serweb.celery import task_named

    task_named(RUN_JOB_TASK).delay(job_id)


def job_run(job_id: int) -> Job | None:
    """Run a queued job once; a job another worker took, or that ended, is left alone."""
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = Job.objects.select_related("user").get(pk=job_id)
    try:
        with audit_channel("task"):
            job.result = _RUNNERS[job.kind](job)
        job.state = Job.State.DONE
    except Exception as exc:  # recorded for the caller who polls; the worker goes on
        job.state = Job.State.FAILED
        job.error = job_error(job, exc)
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "result", "error", "finished_at"])
    return job


def job_error(job: Job, exc: Exception) -> dict[str, Any]:
    """What a failed job tells whoever polls it, as any API answer tells an error: the
    service's message keyed by field, or that its domain went meanwhile; of an unexpected
    failure, only that it happened (the log has the rest)."""
    if isinstance(exc, ValidationError):
        answer = django_validation_error(exc)
    elif isinstance(exc, ObjectDoesNotExist):
        answer = exceptions.NotFound(str(exc))
    else:
        logger.exception("job %s (%s of %s) failed", job.pk, job.kind, job.target)
        answer = exceptions.APIException(
            "the job failed unexpectedly; operators find why in the log"
        )
    return json.loads(json.dumps(exception_handler(answer, {}).data))


def verification_summary(result: Verification | None) -> dict[str, Any]:
    if result is None:
        return {"verified": False}
    return {
        "verified": True,
        "did": result.did,
        "name": result.name,
        "verdict": str(result.verdict),
        "outcome": str(result.outcome),
        "from_state": result.from_state,
        "to_state": result.to_state,
        "note": result.note,
        # What the check did to each name of the domain (an IP literal: against the proxy
        # addresses).
        "names": [
            {
                "name": name.name,
                "verdict": str(name.observation.sip.verdict),
                "outcome": str(name.outcome),
                "from_state": name.from_state,
                "to_state": name.to_state,
                "note": name.note,
            }
            for name in result.names
        ],
    }


def _records(job: Job, name: str, token: str | None) -> dict[str, Any]:
    """Each record the domain must publish, through the resolver and from its zone's
    servers; what is done so far is on the job for whoever polls it."""
    policy = DnsPolicy.from_settings()
    records = domain_records(name, token=token, policy=policy)

    def progress(report: RecordsReport, total: int) -> None:
        Job.objects.filter(pk=job.pk).update(
            result={"records": report.to_json()},
            progress_done=len(report.checks),
            progress_total=total,
        )

    return records_check(name, records, policy=policy, progress=progress).to_json()


def _verify_domain(job: Job) -> dict[str, Any]:
    domain = Domain.objects.filter(pk=job.target_id).first()
    if domain is None:
        raise DomainNotFound(f"domain {job.target} does not exist any more")
    # The records of the name a check looks at first (the canonical one, unless exempt).
    records = _records(job, checked_names(domain)[0].name, ownership_token(domain))
    summary = verification_summary(domain_verify(actor=job.user, domain=domain))
    return {**summary, "records": records}


def _verify_claim(job: Job) -> dict[str, Any]:
    claims = DomainClaim.objects.select_related("tenant", "domain")
    claim = claims.filter(pk=job.target_id).first()
    if claim is None:
        raise DomainClaim.DoesNotExist(f"the claim of {job.target} does not exist any more")
    records = _records(job, claim.name, claim.token)
    summary = verification_summary(domain_claim_verify(actor=job.user, claim=claim))
    claim.refresh_from_db()
    return {**summary, "claim_result": claim.result, "records": records}


def _reload_proxy(job: Job) -> dict[str, Any]:
    """A reload asked for by a person: sent even when the proxy is up to date (it may
    hold stale data after a restart). A proxy that fails it is a result, not a failed
    job: ``ok`` says which, ``summary`` says it in words."""
    proxy = Proxy.objects.filter(pk=job.target_id).first()
    if proxy is None:
        raise Proxy.DoesNotExist(f"proxy {job.target} does not exist any more")
    outcome = proxy_reload(proxy.pk, force=True)
    return {
        "proxy": proxy.name,
        "status": outcome.status,
        "ok": outcome.ok,
        "generation": outcome.generation,
        "detail": outcome.detail,
        "summary": outcome_text(outcome),
    }


_RUNNERS = {
    Job.Kind.VERIFY_DOMAIN: _verify_domain,
    Job.Kind.VERIFY_CLAIM: _verify_claim,
    Job.Kind.RELOAD_PROXY: _reload_proxy,
    Job.Kind.IMPORT_DOMAINS: import_job_run,
    Job.Kind.IMPORT_SUBSCRIBERS: import_job_run,
}
