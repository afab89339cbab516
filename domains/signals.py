"""The hand-off from a committed change to the proxy reload path.

Services send ``domains_changed`` after writing anything the proxy reads. The receiver
bumps the desired generation inside the same transaction (so a crash right after the
commit cannot lose a reload) once per transaction, and schedules the reload after the
commit (so a rolled-back change never reloads and a burst costs one reload).
"""

from django.db import connection, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

domains_changed = Signal()

_RELOAD_STATE_PK = 1


def _bump_generation() -> None:
    from domains.models import ReloadState

    updated = ReloadState.objects.filter(pk=_RELOAD_STATE_PK).update(
        desired_generation=F("desired_generation") + 1, changed_at=timezone.now()
    )
    if not updated:
        ReloadState.objects.create(pk=_RELOAD_STATE_PK, desired_generation=1)


def _after_commit() -> None:
    from domains import reload

    reload.schedule_reload()


def _already_scheduled() -> bool:
    return any(func is _after_commit for _sids, func, _robust in connection.run_on_commit)


def on_domains_changed(sender, **kwargs) -> None:
    if not connection.in_atomic_block:
        # Services are atomic; this keeps a stray caller correct, if not coalesced.
        with transaction.atomic():
            on_domains_changed(sender, **kwargs)
        return
    if _already_scheduled():
        return
    _bump_generation()
    transaction.on_commit(_after_commit)


def connect_receivers() -> None:
    domains_changed.connect(on_domains_changed, dispatch_uid="domains.reload_on_change")
