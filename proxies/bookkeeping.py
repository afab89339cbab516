"""The reload path's own records (the schedule flag, the claim, the applied generation)
committed without waiting for the disk.

Every such write is a commit on the way from a change to the proxy, and a commit waits
for its WAL flush: milliseconds each, more when the disk is busy. These records need to
be visible to other processes at once, which an asynchronous commit is (PostgreSQL's
``synchronous_commit = off``), not to survive a database crash: one lost with the last
fraction of a second before a crash costs at most a change sent again (they are
idempotent) or a claim taken over early. The changes themselves commit as always.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def quick_commit() -> Iterator[None]:
    """A transaction of the reload path's records, committed asynchronously. Inside
    another transaction (a caller's change) it is only a savepoint, and that
    transaction's commit is left as it is."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
