"""The desired generation: the version of the proxy-facing data every proxy should have
loaded. Bumped once per transaction that changes what a proxy caches; each proxy records
the generation it last applied."""

from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from proxies.models import Proxy, ReloadState

# The one row (created by domains migration 0002).
STATE_PK = 1


def desired_state() -> tuple[int, datetime | None]:
    """The desired generation and when it was made (None before any change)."""
    state = ReloadState.objects.filter(pk=STATE_PK).first()
    if state is None:
        return 0, None
    return state.desired_generation, state.changed_at


def desired_generation() -> int:
    return desired_state()[0]


def generation_bump() -> None:
    """One more generation, inside the caller's transaction."""
    updated = ReloadState.objects.filter(pk=STATE_PK).update(
        desired_generation=F("desired_generation") + 1, changed_at=timezone.now()
    )
    if not updated:
        ReloadState.objects.create(pk=STATE_PK, desired_generation=1)


def applied_forget(proxy_id: int, detail: str | None = None) -> None:
    """What the proxy holds is unknown (it answered against the database, an update
    failed half-way, it restarted): as if it had applied nothing, so that its next
    reload is a full one and every domain counts as pending until then. ``detail``, if
    given, is recorded as the proxy's error."""
    error = {} if detail is None else {"last_error": detail[:2000], "last_error_at": timezone.now()}
    Proxy.objects.filter(pk=proxy_id).update(
        applied_generation=0, applied_changed_at=None, full_reload_due=True, **error
    )


def applied_fields(
    proxy: Proxy, *, generation: int, changed_at: datetime | None, seconds: float, now: datetime
) -> dict[str, Any]:
    """What a proxy that has just been brought to ``generation`` (a full reload or an
    update that took ``seconds``) records: applied, verified when it was probed (it has a
    SIP address), its failures forgotten."""
    return {
        "applied_generation": generation,
        "applied_changed_at": changed_at,
        "last_reload_at": now,
        "last_reload_seconds": seconds,
        "last_verified_at": now if proxy.sip_address else None,
        "failures": 0,
        "next_retry_at": None,
    }


def generation_touch() -> None:
    """A later change inside the transaction that bumped the generation: the data that
    generation stands for is as new as this change (so a proxy that loads it is not
    taken for one that has not, proxies.status), and the quiet a reload waits for starts
    again."""
    ReloadState.objects.filter(pk=STATE_PK).update(changed_at=timezone.now())
