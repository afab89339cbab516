"""Jobs: start DNS work from an API call, run it in a task, keep the outcome to poll."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from api.models import Job
from audit.services import audit_channel
from domains.claims import domain_claim_verify
from domains.models import Domain, DomainClaim
from domains.verification import Verification, domain_verify


@transaction.atomic
def job_start(*, actor: AbstractBaseUser, kind: str, target_id: int, target: str) -> Job:
    job = Job.objects.create(user=actor, kind=kind, target_id=target_id, target=target)
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from api.tasks import run_job

    run_job.delay(job_id)


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
        job.error = f"{type(exc).__name__}: {exc}"[:1000]
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "result", "error", "finished_at"])
    return job


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
    }


def _verify_domain(job: Job) -> dict[str, Any]:
    domain = Domain.objects.get(pk=job.target_id)
    return verification_summary(domain_verify(actor=job.user, domain=domain))


def _verify_claim(job: Job) -> dict[str, Any]:
    claim = DomainClaim.objects.select_related("tenant", "domain").get(pk=job.target_id)
    summary = verification_summary(domain_claim_verify(actor=job.user, claim=claim))
    claim.refresh_from_db()
    return {**summary, "claim_result": claim.result}


_RUNNERS = {Job.Kind.VERIFY_DOMAIN: _verify_domain, Job.Kind.VERIFY_CLAIM: _verify_claim}
