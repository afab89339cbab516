"""Subscriber tasks: thin and idempotent; the work is in subscribers.services."""

from django.db import OperationalError

from audit.services import audit_channel
from serweb.celery import app
from subscribers.services import subscriber_clear_passwords_forget


@app.task(ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def forget_clear_passwords() -> int:
    """Idempotent: forgets the clear passwords still kept, none once they are gone."""
    with audit_channel("task"):
        return subscriber_clear_passwords_forget(actor=None)
