from django.db import OperationalError

from api import jobs
from serweb.celery import app


@app.task(
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=5,
)
def run_job(job_id: int) -> None:
    """Idempotent: only a queued job runs, once."""
    jobs.job_run(job_id)
