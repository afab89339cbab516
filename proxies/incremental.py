"""Incremental updates in the htable index mode: a proxy is sent only the keys that
changed since the generation it applied (``htable.sets``/``htable.seti`` for a value,
``htable.delete`` for a key that went), read from the change log (proxies/index_log.py).

A full ``htable.reload`` of both tables is done instead (proxies/reload.py decides, this
module says why) when what the proxy holds is not known (serweb never reloaded it, the
drift check found it stale, an update failed), when the log does not reach back to its generation,
when it restarted since (its uptime went back), and when more keys changed than
SERWEB_PROXY_INCREMENTAL_MAX.

One key is one RPC, and an RPC replaces a key's value in one step: a name moved to
another domain is served under the old did until its htable.sets and under the new one
after, never under both or neither.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from proxies import index_log, memory, transport
from proxies.bookkeeping import quick_commit
from proxies.config import config, htable_name, index_in_htable, names_htable_name
from proxies.generation import applied_fields, applied_forget
from proxies.index_log import Change
from proxies.models import IndexTable, Proxy
from proxies.outcome import ReloadOutcome, Status, failed
from proxies.probes import probe_expected

logger = logging.getLogger("serweb.reload")

# core.uptime counts whole seconds, and the call takes a moment: a start time seen later
# than the one recorded by more than this is a restart.
_RESTART_SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class Plan:
    changes: list[Change] | None  # None: a full reload
    why_full: str = ""
    started_at: datetime | None = None


def plan(proxy: Proxy, log: index_log.LogState) -> Plan:
    """What to send the proxy: its changes, or why it gets a full reload. Asks the proxy
    its uptime; raises ProxyError if it cannot be asked."""
    applied = proxy.applied_generation
    if proxy.full_reload_due:
        return Plan(None, "what it holds is not known")
    if not log.complete:
        return Plan(None, "the change log is behind")
    if applied < log.floor:
        return Plan(None, f"its generation {applied} is older than the change log ({log.floor})")
    cfg = config()
    up = transport.uptime_seconds(proxy.transport, proxy.address, timeout=cfg.rpc_timeout)
    started_at = timezone.now() - timedelta(seconds=up)
    if proxy.proxy_started_at is not None and started_at > proxy.proxy_started_at + _RESTART_SLACK:
        # It loaded its tables afresh at the start; a full reload is the safe side.
        applied_forget(proxy.pk)
        return Plan(None, f"it restarted ({up:.0f} s ago)")
    changes = index_log.changes_after(applied, limit=cfg.incremental_max)
    if changes is None:
        return Plan(None, f"more than {cfg.incremental_max} keys changed")
    return Plan(changes, started_at=started_at)


def goes_out_at_once(proxy_id: int) -> bool:
    """The proxy's next catch-up is small enough to send now rather than wait for quiet:
    the quiet window coalesces full reloads, for their cost."""
    if not index_in_htable():
        return False
    state = Proxy.objects.filter(pk=proxy_id).values_list("applied_generation", "full_reload_due")
    applied, full_reload_due = next(iter(state), (0, True))
    log = index_log.log_state()
    if full_reload_due or not log.complete or applied < log.floor:
        return False
    return index_log.changes_count(applied, limit=config().incremental_max) <= (
        config().incremental_max
    )


def new_items(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.key, c.value) for c in changes if c.value is not None]


def send(proxy: Proxy, changes: list[Change], *, timeout: float) -> None:
    """Send the changes in their order, all within ``timeout`` seconds. Raises the first
    ProxyError; what was sent before it stays sent."""
    cfg = config()
    tables = {IndexTable.NAMES: names_htable_name(), IndexTable.ATTRS: htable_name()}
    deadline = time.monotonic() + timeout
    for sent, change in enumerate(changes):
        left = deadline - time.monotonic()
        if left <= 0:
            raise transport.ProxyTimeout(
                f"{sent} of {len(changes)} changes sent in {timeout:.0f} s"
            )
        table = tables[change.table]
        per_call = min(cfg.rpc_timeout, left)
        if change.value is None:
            transport.htable_delete(
                proxy.transport, proxy.address, table, change.key, timeout=per_call
            )
        else:
            transport.htable_set(
                proxy.transport,
                proxy.address,
                table,
                change.key,
                change.value,
                is_int=change.is_int,
                timeout=per_call,
            )


def expected_names(changes: list[Change]) -> list[tuple[str, str | None]]:
    """The changed names with the did each must now be served as (None: not served)."""
    return [(c.key, c.value) for c in changes if c.table == IndexTable.NAMES]


def applied(
    proxy: Proxy,
    *,
    generation: int,
    changed_at: datetime | None,
    seconds: float,
    started_at: datetime | None,
    shm: transport.ShmStats,
) -> None:
    """Record the generation the update brought the proxy to (in one write: each is a
    commit the next change may wait for)."""
    now = timezone.now()
    with quick_commit():
        Proxy.objects.filter(pk=proxy.pk).update(
            shm_total=shm.total,
            shm_free=shm.free,
            shm_checked_at=now,
            **applied_fields(
                proxy, generation=generation, changed_at=changed_at, seconds=seconds, now=now
            ),
            update_count=F("update_count") + 1,
            proxy_started_at=started_at,
        )


def update(
    proxy: Proxy, log: index_log.LogState, generation: int, changed_at: datetime | None
) -> ReloadOutcome | None:
    """Under the claim, in the htable index mode: send only what changed since the
    proxy's generation, probe it and record it. None: do a full reload instead (too many
    changes, a restart, an RPC error, wrong answers)."""
    cfg = config()
    try:
        found = plan(proxy, log)
        if found.changes is None:
            logger.info("proxy %s: a full reload, as %s", proxy.name, found.why_full)
            return None
        room, shm = memory.room_for_items(proxy, new_items(found.changes))
    except transport.ProxyError as exc:
        return failed(proxy, Status.RETRY, generation, f"before the update: {exc}")
    if room is not None:
        memory.shm_checked(proxy, shm)
        logger.error("proxy %s: not updating: %s", proxy.name, room)
        return failed(proxy, Status.NO_ROOM, generation, room)
    started = time.monotonic()
    try:
        send(proxy, found.changes, timeout=cfg.reload_timeout)
    except transport.ProxyRpcError as exc:
        # The proxy answers, so the full reload can go at once.
        applied_forget(proxy.pk, f"htable update: {exc}; reloading in full")
        logger.warning("proxy %s: htable update failed (%s); a full reload", proxy.name, exc)
        return None
    except transport.ProxyError as exc:
        # Some changes may have gone out: the next try is a full reload.
        applied_forget(proxy.pk)
        return failed(proxy, Status.RETRY, generation, f"htable update: {exc}")
    seconds = time.monotonic() - started
    wrong = probe_expected(proxy, expected_names(found.changes))
    if wrong:
        detail = "after the htable update: " + "; ".join(wrong)
        applied_forget(proxy.pk, detail + "; reloading in full")
        logger.warning("proxy %s: %s; a full reload", proxy.name, detail)
        return None
    applied(
        proxy,
        generation=generation,
        changed_at=changed_at,
        seconds=seconds,
        started_at=found.started_at,
        shm=shm,
    )
    logger.info(
        "proxy %s: generation %s live, %s change(s) (%.4f s)",
        proxy.name,
        generation,
        len(found.changes),
        seconds,
    )
    return ReloadOutcome(proxy.pk, Status.APPLIED, generation)


def after_full_reload(proxy: Proxy) -> str | None:
    """After a full reload in the htable index mode: forget the deletions every proxy
    has, and warn if the table of names has too few slots for them."""
    index_log.tombstones_purge()
    try:
        warning = memory.slots_warning(proxy, names_htable_name(), memory.names_count()[0])
    except transport.ProxyError:
        return None
    if warning:
        logger.warning("proxy %s: %s", proxy.name, warning)
    return warning
