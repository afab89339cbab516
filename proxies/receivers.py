"""The hand-off from a committed change to the proxy reload path.

Services send ``domains.signals.domains_changed`` after writing anything the proxy caches.
The receiver bumps the desired generation inside the same transaction (so a crash right
after the commit cannot lose a reload) once per transaction, and schedules the reload after
the commit (so a rolled-back change never reloads and a burst costs one reload). In the
htable index mode it also logs, at every signal and in the same transaction, which keys
of the proxies' hash tables the change touched (proxies/index_log.py).
"""

from django.db import connection, transaction

from domains.signals import domains_changed
from proxies import index_log, reload
from proxies.config import index_in_htable
from proxies.generation import generation_bump, generation_touch


def _after_commit() -> None:
    reload.schedule_reload()


def _already_scheduled() -> bool:
    return any(func is _after_commit for _sids, func, _robust in connection.run_on_commit)


def on_domains_changed(sender, dids=None, **kwargs) -> None:
    if not connection.in_atomic_block:
        # Services are atomic; this keeps a stray caller correct, if not coalesced.
        with transaction.atomic():
            on_domains_changed(sender, dids=dids, **kwargs)
        return
    if _already_scheduled():
        generation_touch()
    else:
        generation_bump()
        transaction.on_commit(_after_commit)
    if index_in_htable():
        index_log.changes_record(dids=dids)


def connect_receivers() -> None:
    domains_changed.connect(on_domains_changed, dispatch_uid="proxies.reload_on_change")
