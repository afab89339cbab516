"""Reload tasks: small, idempotent, taking ids; the work is in proxies.reload and
proxies.drift."""

from proxies import drift, reload
from serweb.celery import app


@app.task(name=reload.RELOAD_TASK, bind=True, ignore_result=True, max_retries=None, acks_late=True)
def reload_proxy(self, proxy_id: int) -> None:
    """Bring one proxy up to the desired generation; retry with backoff until it has.

    Eager (no broker) runs happen inside the request or command that committed the
    change: they neither wait for quiet nor retry (Celery would retry eagerly, at once and
    in a loop), and skip a proxy whose backoff after a failure has not run out; the next
    change after that, ``proxy reload`` or the drift check tries again.
    """
    eager = bool(self.request.is_eager)
    if eager and reload.in_backoff(proxy_id):
        reload.reload_task_finished(proxy_id, reload.ReloadOutcome(proxy_id, reload.Status.RETRY))
        return
    if not eager and not self.request.retries:
        wait = reload.reload_debounce(proxy_id)
        if wait > 0:
            self.apply_async((proxy_id,), countdown=wait)
            return
    # A worker's trailing reload is the next task (reload_task_finished), which waits for
    # quiet again; an eager run has no timer to run it later.
    outcome = reload.proxy_reload(proxy_id, trailing=eager)
    should_retry = outcome.status == reload.Status.RETRY or (
        outcome.status == reload.Status.BUSY and reload.proxy_is_behind(proxy_id)
    )
    if should_retry and not eager:
        delay = reload.retry_delay(proxy_id)
        reload.reload_retry_noted(proxy_id, delay)
        raise self.retry(countdown=delay)
    reload.reload_task_finished(proxy_id, outcome)


@app.task(ignore_result=True)
def proxy_drift_check() -> None:
    """Periodic: reload proxies that are behind or answer against the database."""
    drift.drift_check()


# The names these tasks had in the domains app. A message queued under one before an
# upgrade (a reload waiting for quiet or a retry, a drift check from beat) is forwarded,
# not dropped as unregistered: a dropped reload would wait for the next drift check.
@app.task(name="domains.tasks.reload_proxy", ignore_result=True)
def reload_proxy_queued_as_domains_task(proxy_id: int) -> None:
    reload_proxy.delay(proxy_id)


@app.task(name="domains.tasks.proxy_drift_check", ignore_result=True)
def proxy_drift_check_queued_as_domains_task() -> None:
    proxy_drift_check.delay()
