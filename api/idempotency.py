"""Idempotency-Key for POST: a retried request gets the first answer instead of a second
write (the IETF httpapi idempotency-key draft's semantics).

The key is reserved by inserting its record in the transaction that makes the write, so
the unique (user, key) constraint lets one write through per account and key. A retry that
arrives while the first request still runs waits for that transaction (PostgreSQL holds it
at the unique index) and replays the committed answer; after
SERWEB_IDEMPOTENCY_WAIT_SECONDS it gets a 409 instead. When the first request fails, it
wrote nothing and its reservation rolls back with it: the retry runs as a new request.
Only successful answers are kept (IDEMPOTENCY_KEEP_FOR), never with a secret in them: the
view says what of its answer may be kept (``stored``).
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from api.models import IdempotencyRecord
from api.services import IDEMPOTENCY_KEEP_FOR, idempotency_purge_expired

HEADER = "Idempotency-Key"
# Without a broker no beat purges expired records; each keyed request removes this many.
PURGE_BATCH = 100


class KeyReused(exceptions.APIException):
    status_code = 422
    default_detail = "this Idempotency-Key was used for another request"
    default_code = "idempotency_key_reused"


class KeyInUse(exceptions.APIException):
    status_code = 409
    default_detail = "a request with this Idempotency-Key is still running; retry later"
    default_code = "idempotency_key_in_use"
    wait = 1  # seconds, sent as Retry-After


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.get_full_path().encode())
    digest.update(request.body)
    return digest.hexdigest()


def _keep_all(data):
    return data


def idempotent(
    request, handler: Callable[[], Response], *, stored: Callable[[dict], dict] = _keep_all
) -> Response:
    """Run ``handler`` once per (user, Idempotency-Key); ``stored`` turns its answer into
    what a replay answers (without the secrets the first answer showed)."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > 255:
        raise exceptions.ValidationError({HEADER: ["give 1 to 255 characters"]})
    fingerprint = _request_hash(request)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        idempotency_purge_expired(limit=PURGE_BATCH)
    with transaction.atomic():
        record = IdempotencyRecord(
            user=request.user,
            key=key,
            method=request.method,
            path=request.get_full_path()[:500],
            request_hash=fingerprint,
            # Replaced below; nobody sees the row before this transaction commits.
            status_code=0,
        )
        earlier = _reserve(record)
        if earlier is not None:
            return _replay(earlier, fingerprint)
        response = handler()
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True)  # nothing written: a retry may run again
            return response
        record.status_code = response.status_code
        record.body = stored(response.data)
        record.save(update_fields=["status_code", "body"])
    return response


def _reserve(record: IdempotencyRecord) -> IdempotencyRecord | None:
    """Insert ``record`` (None: this request makes the write), or the earlier request's
    committed record with the same key."""
    mine = IdempotencyRecord.objects.filter(user=record.user, key=record.key)
    try:
        with _lock_wait(settings.SERWEB_IDEMPOTENCY_WAIT_SECONDS):
            mine.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEEP_FOR).delete()
            try:
                with transaction.atomic():
                    record.save(force_insert=True)
            except IntegrityError:
                earlier = mine.first()
            else:
                return None
    except OperationalError as exc:
        if _waited_too_long(exc):
            raise KeyInUse() from None
        raise
    if earlier is None:  # removed as expired meanwhile; a retry makes it anew
        raise KeyInUse()
    return earlier


@contextmanager
def _lock_wait(seconds: int) -> Iterator[None]:
    """Wait at most ``seconds`` for another transaction's rows (PostgreSQL's lock_timeout,
    for this transaction only; SQLite waits for its busy timeout)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{seconds}s"],
        )
        previous = cursor.fetchone()[0]
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _waited_too_long(exc: OperationalError) -> bool:
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate == "55P03" or "database is locked" in str(exc)


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise KeyReused()
    return Response(record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"})
