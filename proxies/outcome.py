"""What a reload or update came to, and how a failure is recorded on the proxy (its
error, the failure count and when to try again)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from proxies.config import config
from proxies.models import Proxy

logger = logging.getLogger("serweb.reload")


class Status:
    APPLIED = "applied"  # reloaded and confirmed
    CURRENT = "current"  # nothing to do
    BUSY = "busy"  # another reload holds the claim
    RETRY = "retry"  # unreachable, timed out or not yet serving: try again later
    FAILED = "failed"  # the proxy refused the reload (e.g. a bad row): needs a person
    NO_ROOM = "no_room"  # the new tables would not fit in shared memory
    GONE = "gone"  # proxy deleted or disabled


@dataclass(frozen=True)
class ReloadOutcome:
    proxy_id: int
    status: str
    generation: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (Status.APPLIED, Status.CURRENT)


def outcome_text(outcome: ReloadOutcome) -> str:
    """What a reload came to, in words for the person who asked for it."""
    if outcome.status == Status.APPLIED:
        warning = f"; {outcome.detail}" if outcome.detail else ""
        return f"reloaded, generation {outcome.generation} live{warning}"
    if outcome.status == Status.CURRENT:
        return f"up to date (generation {outcome.generation})"
    if outcome.status == Status.BUSY:
        return "another reload is running; it picks up every change"
    if outcome.status == Status.GONE:
        return "disabled, not reloaded"
    return f"{outcome.status.replace('_', ' ')}: {outcome.detail}"


def backoff(failures: int) -> float:
    cfg = config()
    return min(cfg.retry_max, cfg.retry_base * 2 ** min(max(failures, 1) - 1, 16))


def failed(proxy: Proxy, status: str, generation: int, detail: str) -> ReloadOutcome:
    now = timezone.now()
    retry_at = (
        now + timedelta(seconds=backoff(proxy.failures + 1)) if status == Status.RETRY else None
    )
    Proxy.objects.filter(pk=proxy.pk).update(
        last_error=detail[:2000],
        last_error_at=now,
        failures=F("failures") + 1,
        next_retry_at=retry_at,
    )
    logger.warning("proxy %s: %s (%s)", proxy.name, detail, status)
    return ReloadOutcome(proxy.pk, status, generation, detail)
