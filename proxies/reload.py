"""The reload pipeline: from a committed change to every proxy serving it.

1. ``domains_changed`` bumps the desired generation inside the transaction and calls
   ``schedule_reload()`` after the commit (proxies/receivers.py).
2. ``schedule_reload()`` queues at most one ``reload_proxy`` task per proxy: the
   ``reload_scheduled_at`` flag is set by a conditional UPDATE, and a change that finds it
   set rides on the queued task. With a broker the task waits for a quiet moment
   (``SERWEB_RELOAD_QUIET_MS`` milliseconds without a change, at most ``SERWEB_RELOAD_MAX_WAIT``),
   so a burst of changes costs one reload per proxy.
3. ``proxy_reload()`` claims the proxy (conditional UPDATE on ``reloading_since``, stale
   after ``SERWEB_RELOAD_CLAIM_TTL``), reads the desired generation, checks the proxy's
   free shared memory (proxies/memory.py), sends ``domain.reload`` (preceded by ``htable.reload`` when the
   proxies load attributes with module htable, SERWEB_PROXY_ATTRIBUTES=htable), probes the
   changed names with SIP OPTIONS (proxies/probes.py) and records the generation it read as applied. After
   releasing the claim it looks again: a change that arrived meanwhile gets one trailing
   reload. With a broker that is the next queued task, which waits for quiet like any
   other, with a max-wait window of its own: under a stream of changes a proxy sees one
   reload per ``SERWEB_RELOAD_MAX_WAIT``, never one per change. Without one it follows
   at once, as no timer would run it later.
4. A failure is recorded on the proxy (last_error, failures, next_retry_at), never raised
   into the web request or command that made the change. With a broker the task retries
   with exponential backoff until the proxy catches up. Without one (tasks run eagerly,
   in-process, after the commit) there is no timer: the next change, ``manage.py proxy
   reload`` or ``manage.py proxy status --check`` (the drift check, e.g. from cron) retries.
5. ``drift_check()`` (proxies/drift.py; periodic with a broker) schedules proxies that are behind, and
   probes a sample of names on the others; a proxy that answers against the database is
   marked stale and reloaded.
6. Before either, the served names a catch-up brings in are deleted from the proxy's
   negative cache of the lookup (proxies/negatives.py), so the lookup answers them while
   the tables are not there yet.
7. In the htable index mode (SERWEB_PROXY_DOMAINS=htable) the catch-up under the claim
   is, when it can be, only the keys that changed since the proxy's generation
   (``_update``, proxies/incremental.py, from the log of proxies/index_log.py), sent at
   once rather than after a quiet moment; a full reload is ``htable.reload`` of both
   hash tables, and the fallback.

Call these functions outside a transaction: claims must be visible to other processes
at once, and nothing here should hold a transaction open across a network call.
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from proxies import incremental, index_log, transport
from proxies.bookkeeping import quick_commit
from proxies.config import (
    attributes_in_htable,
    config,
    htable_name,
    index_in_htable,
    names_htable_name,
)
from proxies.generation import applied_fields, desired_state
from proxies.memory import room_check
from proxies.models import Proxy
from proxies.negatives import negative_htable_name, negatives_forget, served_names
from proxies.outcome import ReloadOutcome, Status, backoff, failed
from proxies.probes import changed_domains, probe_names

logger = logging.getLogger("serweb.reload")

# The task that brings one proxy up to date (proxies/tasks.py), queued by name: the task
# module imports this one, never the other way round.
RELOAD_TASK = "proxies.tasks.reload_proxy"


# --- scheduling ----------------------------------------------------------------------------


def schedule_reload() -> None:
    """After a committed change: one queued reload per enabled proxy. Never raises: the
    desired generation is already in the database, so a lost schedule is caught up by
    the next change, the drift check or ``proxy reload``."""
    try:
        for proxy_id in Proxy.objects.filter(enabled=True).values_list("pk", flat=True):
            reload_schedule(proxy_id)
    except Exception:
        logger.exception("scheduling proxy reloads failed; the drift check will catch up")


def _schedule_ttl() -> timedelta:
    cfg = config()
    # Longer than any wait of a live task (debounce or backoff), so a set flag whose task
    # was lost (worker killed, broker flushed) does not block scheduling for long.
    return timedelta(seconds=cfg.max_wait + cfg.retry_max + cfg.claim_ttl)


def reload_schedule(proxy_id: int) -> bool:
    """Queue a reload task for the proxy unless one is queued already. Returns whether
    this call queued it."""
    now = timezone.now()
    with quick_commit():
        queued = (
            Proxy.objects.filter(pk=proxy_id, enabled=True)
            .filter(
                Q(reload_scheduled_at__isnull=True)
                | Q(reload_scheduled_at__lt=now - _schedule_ttl())
            )
            .update(reload_scheduled_at=now)
        )
    if queued:
        # Celery loads here, when a reload is queued, not at every command's start.
        from serweb.celery import task_named

        # The task itself waits for quiet (reload_debounce) if a full reload is due.
        countdown = 0 if index_in_htable() else config().quiet
        task_named(RELOAD_TASK).apply_async((proxy_id,), countdown=countdown)
    return bool(queued)


def reload_debounce(proxy_id: int) -> float:
    """Seconds a queued reload should still wait for the changes to quiet down; 0: now.
    An incremental update does not wait: quiet coalesces full reloads, for their cost."""
    cfg = config()
    if incremental.goes_out_at_once(proxy_id):
        return 0.0
    _generation, changed_at = desired_state()
    scheduled_at = Proxy.objects.filter(pk=proxy_id).values_list("reload_scheduled_at", flat=True)
    scheduled_at = next(iter(scheduled_at), None)
    if changed_at is None or scheduled_at is None:
        return 0.0
    now = timezone.now()
    quiet_left = cfg.quiet - (now - changed_at).total_seconds()
    wait_left = cfg.max_wait - (now - scheduled_at).total_seconds()
    return max(0.0, min(quiet_left, wait_left))


def retry_delay(proxy_id: int) -> float:
    """Exponential backoff from the proxy's failure count, with jitter."""
    failures = Proxy.objects.filter(pk=proxy_id).values_list("failures", flat=True).first() or 1
    return backoff(failures) * random.uniform(0.5, 1.0)


def in_backoff(proxy_id: int) -> bool:
    """The proxy failed lately and its next try is not due yet. Without a broker, changes
    made meanwhile do not try again: a proxy that is down costs each change nothing, not
    a timeout."""
    return Proxy.objects.filter(pk=proxy_id, next_retry_at__gt=timezone.now()).exists()


def reload_retry_noted(proxy_id: int, delay: float) -> None:
    """A task will retry after ``delay`` seconds: keep the flag fresh, show when."""
    now = timezone.now()
    Proxy.objects.filter(pk=proxy_id).update(
        reload_scheduled_at=now, next_retry_at=now + timedelta(seconds=delay)
    )


def reload_task_finished(proxy_id: int, outcome: ReloadOutcome) -> None:
    """The queued task is done: clear the flag, then look again, as a change may have
    found the flag set and ridden on a task that had already read its generation. The
    task queued for it waits for quiet, at most max-wait from now."""
    with quick_commit():
        Proxy.objects.filter(pk=proxy_id).update(reload_scheduled_at=None)
    if outcome.ok and proxy_is_behind(proxy_id):
        reload_schedule(proxy_id)


# --- one proxy's reload --------------------------------------------------------------------


def proxy_reload(proxy_id: int, *, force: bool = False, trailing: bool = True) -> ReloadOutcome:
    """Bring one proxy up to the desired generation (or reload it anyway with ``force``),
    one reload at a time per proxy. Records every result on the proxy; never raises for
    a proxy that is down.

    With ``trailing``, changes that came during the reload get another one here, at once.
    A queued task passes False and leaves them to the task ``reload_task_finished``
    queues: looping here would reload back to back for as long as changes keep coming."""
    while True:
        claimed_at = _claim(proxy_id)
        if claimed_at is None:
            if not Proxy.objects.filter(pk=proxy_id, enabled=True).exists():
                return ReloadOutcome(proxy_id, Status.GONE)
            return ReloadOutcome(proxy_id, Status.BUSY)
        keep_claim = False
        try:
            outcome, keep_claim = _catch_up(proxy_id, force=force)
        finally:
            if not keep_claim:
                _release(proxy_id, claimed_at)
        if not trailing or not outcome.ok or not proxy_is_behind(proxy_id):
            return outcome
        force = False


def _claim(proxy_id: int) -> datetime | None:
    now = timezone.now()
    stale = now - timedelta(seconds=config().claim_ttl)
    with quick_commit():
        claimed = (
            Proxy.objects.filter(pk=proxy_id, enabled=True)
            .filter(Q(reloading_since__isnull=True) | Q(reloading_since__lt=stale))
            .update(reloading_since=now)
        )
    return now if claimed else None


def _release(proxy_id: int, claimed_at: datetime) -> None:
    # Only our own claim: a stale one may have been taken over meanwhile.
    with quick_commit():
        Proxy.objects.filter(pk=proxy_id, reloading_since=claimed_at).update(reloading_since=None)


def proxy_is_behind(proxy_id: int) -> bool:
    generation, _changed_at = desired_state()
    return Proxy.objects.filter(
        pk=proxy_id, enabled=True, applied_generation__lt=generation
    ).exists()


def _catch_up(proxy_id: int, *, force: bool) -> tuple[ReloadOutcome, bool]:
    """One reload under the claim. Returns the outcome and whether to keep the claim (a
    reload that timed out may still be running in Kamailio)."""
    proxy = Proxy.objects.filter(pk=proxy_id).first()
    if proxy is None:
        return ReloadOutcome(proxy_id, Status.GONE), False
    log = index_log.log_state() if index_in_htable() else None
    if log is not None and not log.complete:
        # Before the generation is read: a full reload of it is then a start for the log.
        index_log.log_rebuild()
        log = index_log.log_state()
    generation, changed_at = (log.generation, log.changed_at) if log else desired_state()
    if proxy.applied_generation >= generation and not force:
        return ReloadOutcome(proxy_id, Status.CURRENT, generation), False
    if negative_htable_name():
        # Before the tables: the lookup serves a new name meanwhile (proxies/negatives.py).
        since = proxy.applied_changed_at
        negatives_forget(proxy, served_names(changed_domains(since, changed_at)))
    if log is not None and not force:
        outcome = incremental.update(proxy, log, generation, changed_at)
        if outcome is not None:
            return outcome, False
        # A full reload instead; what the update found may have marked the proxy stale.
        proxy.refresh_from_db()
    cfg = config()

    try:
        room = room_check(proxy)
    except transport.ProxyError as exc:
        return failed(proxy, Status.RETRY, generation, f"before the reload: {exc}"), False
    if room is not None:
        logger.error("proxy %s: not reloading: %s", proxy.name, room)
        return failed(proxy, Status.NO_ROOM, generation, room), False

    started = time.monotonic()
    for method, table in reload_methods():
        # One budget for all of them: the claim's TTL covers one reload_timeout.
        left = max(cfg.reload_timeout - (time.monotonic() - started), 0.001)
        try:
            _send_reload(proxy, method, table, timeout=left)
        except transport.ProxyTimeout as exc:
            return failed(proxy, Status.RETRY, generation, f"{method}: {exc}"), True
        except transport.ProxyUnreachable as exc:
            return failed(proxy, Status.RETRY, generation, f"{method}: {exc}"), False
        except transport.ProxyError as exc:
            # Kamailio keeps serving its old data; retrying the same data fails the same way.
            logger.error("proxy %s: %s failed: %s", proxy.name, method, exc)
            _count_reload(proxy)
            return failed(proxy, Status.FAILED, generation, f"{method}: {exc}"), False
    seconds = time.monotonic() - started
    _count_reload(proxy)

    wrong = probe_names(proxy, changed_domains(proxy.applied_changed_at, changed_at))
    if wrong:
        detail = "after domain.reload: " + "; ".join(wrong)
        return failed(proxy, Status.RETRY, generation, detail), False

    now = timezone.now()
    Proxy.objects.filter(pk=proxy_id).update(
        **applied_fields(
            proxy, generation=generation, changed_at=changed_at, seconds=seconds, now=now
        ),
        full_reload_due=False,
    )
    logger.info("proxy %s: generation %s live (%.3f s)", proxy.name, generation, seconds)
    warning = incremental.after_full_reload(proxy) if index_in_htable() else None
    return ReloadOutcome(proxy_id, Status.APPLIED, generation, warning or ""), False


def reload_methods() -> list[tuple[str, str | None]]:
    """The RPCs one reload sends, in order, each with its hash table if it has one.

    Attributes in htable come first: a domain that becomes served then has its attributes
    from its first request on (a realm, a closed peering policy), whereas an attribute
    that outlives its domain for a moment is never read. In the htable index mode the
    names are a hash table too, and the domain module is not there."""
    if index_in_htable():
        return [("htable.reload", htable_name()), ("htable.reload", names_htable_name())]
    if attributes_in_htable():
        return [("htable.reload", htable_name()), ("domain.reload", None)]
    return [("domain.reload", None)]


def _send_reload(proxy: Proxy, method: str, table: str | None, *, timeout: float) -> None:
    if table is not None:
        transport.htable_reload(proxy.transport, proxy.address, table, timeout=timeout)
    else:
        transport.domain_reload(proxy.transport, proxy.address, timeout=timeout)


def _count_reload(proxy: Proxy) -> None:
    Proxy.objects.filter(pk=proxy.pk).update(reload_count=F("reload_count") + 1)
