"""The audit trail: every service that writes records one entry, inside its transaction."""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from audit.models import AuditEntry

# Which door a write came through (web, api, cli, task); set once per request or command.
_channel: contextvars.ContextVar[str] = contextvars.ContextVar("audit_channel", default="code")
# Who acts when a write names no user: "system" (tasks, housekeeping) unless a command says
# who runs it (the operating-system login, or the operator named with --as).
_acting: contextvars.ContextVar[tuple[AbstractBaseUser | None, str]] = contextvars.ContextVar(
    "audit_acting", default=(None, "system")
)


@contextmanager
def audit_channel(channel: str) -> Iterator[None]:
    token = _channel.set(channel)
    try:
        yield
    finally:
        _channel.reset(token)


@contextmanager
def audit_acting(*, user: AbstractBaseUser | None = None, name: str = "") -> Iterator[None]:
    """Record writes that name no actor as ``user`` (or, without one, as ``name``)."""
    token = _acting.set((user, user.get_username() if user is not None else name or "system"))
    try:
        yield
    finally:
        _acting.reset(token)


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
    if user is None:
        user, actor_name = _acting.get()
    else:
        actor_name = user.get_username()
    return AuditEntry.objects.create(
        actor=user,
        actor_name=actor_name,
        channel=_channel.get(),
        action=action,
        object_type=object_type,
        object_repr=object_repr[:200],
        did=did,
        before=before,
        after=after,
    )
