"""API tokens and idempotent replays."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, IdempotencyRecord
from audit.services import Actor, audit_record

TOKEN_PREFIX_BYTES = 6
TOKEN_SECRET_BYTES = 32
# Updating last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a POST's answer is replayed for a retry with the same Idempotency-Key.
IDEMPOTENCY_KEEP_FOR = timedelta(hours=24)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def token_create(*, actor: Actor, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Create a token for ``user``; the clear key is returned once and never stored."""
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 100:
        raise ValidationError({"name": "a token needs a name of 1 to 100 characters"})
    if not user.is_active:
        raise ValidationError({"user": f"{user.get_username()} is not active"})
    prefix = secrets.token_hex(TOKEN_PREFIX_BYTES)
    secret = secrets.token_urlsafe(TOKEN_SECRET_BYTES)
    token = ApiToken.objects.create(
        user=user, name=clean_name, prefix=prefix, key_hash=_digest(secret)
    )
    audit_record(
        actor=actor,
        action="token.create",
        object_type="api_token",
        object_repr=f"{prefix} for {user.get_username()}",
        after={"user": user.get_username(), "name": clean_name, "prefix": prefix},
    )
    return token, f"{prefix}.{secret}"


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="token.revoke",
            object_type="api_token",
            object_repr=f"{token.prefix} for {token.user.get_username()}",
            before={"prefix": token.prefix, "name": token.name, "revoked": False},
            after={"prefix": token.prefix, "name": token.name, "revoked": True},
        )
    return token


def token_authenticate(key: str) -> ApiToken | None:
    """The active token whose key is ``key``, compared in constant time; else None."""
    prefix, sep, secret = (key or "").partition(".")
    if not sep or not prefix or not secret:
        return None
    token = ApiToken.objects.active().select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, _digest(secret)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def idempotency_purge_expired(*, limit: int | None = None) -> int:
    """Delete the replayable answers older than IDEMPOTENCY_KEEP_FOR, at most ``limit`` of
    them (the oldest first); returns how many. Safe to run any time, in parallel too."""
    expired = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEEP_FOR)
    if limit is not None:
        oldest = expired.order_by("created_at").values_list("pk", flat=True)[:limit]
        expired = IdempotencyRecord.objects.filter(pk__in=list(oldest))
    deleted, _ = expired.delete()
    return deleted
