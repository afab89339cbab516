"""How far a running job has got, where whoever polls it sees it at once.

A job's work (an import) runs in a transaction of its own, so its progress cannot be
written through that transaction: nobody would see it before the end. On PostgreSQL it
goes through a second connection that commits each write; on SQLite, whose writer holds
the whole file, only the count before and after the work is written.
"""

import time

from django.db import DEFAULT_DB_ALIAS, connection, connections

from api.models import Job

# Seconds between two writes of the count: often enough for a progress bar.
EVERY = 0.5


class JobProgress:
    """Call with the rows done so far; ``close`` when the work ends."""

    def __init__(self, job: Job, *, total: int) -> None:
        self.job_id = job.pk
        self.total = total
        self._side = None
        self._written_at = 0.0
        Job.objects.filter(pk=self.job_id).update(progress_done=0, progress_total=total)

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self._written_at < EVERY:
            return
        self._written_at = now
        if not connection.in_atomic_block:
            Job.objects.filter(pk=self.job_id).update(progress_done=done)
        elif connection.vendor == "postgresql":
            self._write_aside(min(done, self.total))

    def _write_aside(self, done: int) -> None:
        if self._side is None:
            self._side = connections.create_connection(DEFAULT_DB_ALIAS)
        with self._side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Job._meta.db_table} SET progress_done = %s WHERE id = %s",
                [done, self.job_id],
            )

    def close(self, *, finished: bool) -> None:
        """The work ended: when it ``finished``, every row is done."""
        if self._side is not None:
            self._side.close()
            self._side = None
        if finished:
            Job.objects.filter(pk=self.job_id).update(progress_done=self.total)
