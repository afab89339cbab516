"""Idempotency-Key for POST: a retried request gets the first answer instead of a second
write (the IETF httpapi idempotency-key draft's semantics)."""

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)


class KeyReused(exceptions.APIException):
    status_code = 422
    default_detail = "this Idempotency-Key was used for another request"
    default_code = "idempotency_key_reused"


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.get_full_path().encode())
    digest.update(request.body)
    return digest.hexdigest()


def idempotent(request, handler: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > 255:
        raise exceptions.ValidationError({HEADER: ["give 1 to 255 characters"]})
    fingerprint = _request_hash(request)
    fresh = IdempotencyRecord.objects.filter(created_at__gte=timezone.now() - KEEP_FOR)
    earlier = fresh.filter(user=request.user, key=key).first()
    if earlier is not None:
        return _replay(earlier, fingerprint)
    response = handler()
    if response.status_code >= 500:
        return response
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.filter(user=request.user, key=key).delete()
            IdempotencyRecord.objects.create(
                user=request.user,
                key=key,
                method=request.method,
                path=request.get_full_path()[:500],
                request_hash=fingerprint,
                status_code=response.status_code,
                body=response.data,
            )
    except IntegrityError:
        # A concurrent retry stored its answer first; ours is the same write's answer.
        pass
    return response


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise KeyReused()
    return Response(record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
