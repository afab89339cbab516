"""The audit trail: every service that writes records one entry, inside its transaction."""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from audit.models import AuditEntry

# Which door a write came through (web, api, cli, task); set once per request or command.
_channel: contextvars.ContextVar[str] = contextvars.ContextVar("audit_channel", default="code")


@contextmanager
def audit_channel(channel: str) -> Iterator[None]:
    token = _channel.set(channel)
    try:
        yield
    finally:
        _channel.reset(token)


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    object_type: str,
    object_repr: str,
    did: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "system",
        channel=_channel.get(),
        action=action,
        object_type=object_type,
        object_repr=object_repr[:200],
        did=did,
        before=before,
        after=after,
    )
