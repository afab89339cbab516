"""The hand-off from a committed change to the proxy reload path.

Services send ``domains.signals.domains_changed`` after writing anything the proxy caches.
The receiver bumps the desired generation inside the same transaction (so a crash right
after the commit cannot lose a reload) once per transaction, and schedules the reload after
the commit (so a rolled-back change never reloads and a burst costs one reload).
"""

from django.db import connection, transaction

from domains.signals import domains_changed
from proxies import reload
from proxies.generation import generation_bump


def _after_commit() -> None:
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
    generation_bump()
    transaction.on_commit(_after_commit)


def connect_receivers() -> None:
    domains_changed.connect(on_domains_changed, dispatch_uid="proxies.reload_on_change")
