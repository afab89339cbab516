"""What the services share about writing under concurrency."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

CONFLICT_MESSAGE = "a concurrent change conflicts with this one; try again"


@contextmanager
def lost_race(serial_check: Callable[[], object], *, field: str | None = None) -> Iterator[None]:
    """Insert rows that a unique key guards, in a savepoint.

    When a concurrent transaction committed the same key first, the insert fails with an
    IntegrityError. ``serial_check`` (the check the service made before writing) then runs
    again: it now sees the winner's row and raises the error a serial request gets. If it
    passes all the same, the conflict is reported on ``field``.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        serial_check()
        raise ValidationError({field: CONFLICT_MESSAGE} if field else CONFLICT_MESSAGE) from None
