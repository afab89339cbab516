from django.db import OperationalError

from api import jobs
from api.services import idempotency_purge_expired
from serweb.celery import app


@app.task(
    name=jobs.RUN_JOB_TASK,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=5,
)
def run_job(job_id: int) -> None:
    """Idempotent: only a queued job runs, once."""
    jobs.job_run(job_id)


@app.task(ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=10, max_retries=3)
def purge_idempotency_records() -> None:
    """Idempotent: deletes what has expired, whoever ran before."""
    idempotency_purge_expired()
