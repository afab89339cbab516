"""The audit trail: every service that writes records one entry, inside its transaction."""

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Subquery

from audit.models import ActorRole, AuditEntry
from domains.models import Domain, Tenant

# Who a service acts for: a login (an operator or a tenant's owner), or None for the
# commands and tasks, which act as the operators' own (audit_acting says whom to name).
Actor = AbstractBaseUser | None

# Which door a write came through (web, api, cli, task); set once per request or command.
_channel: contextvars.ContextVar[str] = contextvars.ContextVar("audit_channel", default="code")
# The run the write belongs to: one request, command, job or task; its entries share this id
# and are read together. None outside any run (code called directly, as in a shell).
_group: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "audit_group", default=None
)
# Who acts when a write names no user: "system" (tasks, housekeeping) unless a command says
# who runs it (the operating-system login, or the operator named with --as).
_acting: contextvars.ContextVar[tuple[AbstractBaseUser | None, str]] = contextvars.ContextVar(
    "audit_acting", default=(None, "system")
)


@contextmanager
def audit_channel(channel: str, *, group: uuid.UUID | None = None) -> Iterator[uuid.UUID]:
    """One run of work through ``channel``: a request, a command, a job or a task. The
    entries it writes share the group id ``group`` (by default a new one), which it yields;
    a run started inside another (a job run in-process after its request) is a group of its
    own."""
    run = group or uuid.uuid4()
    tokens = _channel.set(channel), _group.set(run)
    try:
        yield run
    finally:
        _group.reset(tokens[1])
        _channel.reset(tokens[0])


def audit_group() -> uuid.UUID | None:
    """The group id of the run in progress, if any."""
    return _group.get()


@contextmanager
def audit_acting(*, user: AbstractBaseUser | None = None, name: str = "") -> Iterator[None]:
    """Record writes that name no actor as ``user`` (or, without one, as ``name``)."""
    token = _acting.set((user, user.get_username() if user is not None else name or "system"))
    try:
        yield
    finally:
        _acting.reset(token)


def _actor_role(user: AbstractBaseUser | None, channel: str) -> str:
    if user is not None:
        return ActorRole.OPERATOR if user.is_staff else ActorRole.TENANT
    # Nobody logged in: the CLI is run by an operator, anything else is housekeeping.
    return ActorRole.OPERATOR if channel == "cli" else ActorRole.SYSTEM


def _owner_now(domain: Domain | None, did: str) -> tuple[Any, Any]:
    """The domain's id and its tenant's, as subqueries of the INSERT: the tenant as the
    database has it when the entry is written (a Domain read earlier in the request may
    predate a move), at no extra query. A domain given by did alone is the one holding that
    did now."""
    if domain is not None:
        return domain.pk, Subquery(Domain.objects.filter(pk=domain.pk).values("tenant_id")[:1])
    if not did:
        return None, None
    holder = Domain.objects.filter(did=did)
    return Subquery(holder.values("pk")[:1]), Subquery(holder.values("tenant_id")[:1])


def audit_record(
    *,
    actor: Actor | AnonymousUser,
    action: str,
    object_type: str,
    object_repr: str,
    domain: Domain | None = None,
    tenant: Tenant | None = None,
    did: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one write. ``domain``: the domain it concerns; the entry then belongs to the
    tenant owning it now (``tenant`` says otherwise, or gives the owner of an object
    without a domain, such as a claim)."""
    user = actor if actor is not None and actor.is_authenticated else None
    if user is None:
        user, actor_name = _acting.get()
    else:
        actor_name = user.get_username()
    channel = _channel.get()
    domain_id, tenant_id = _owner_now(domain, did)
    entry = AuditEntry.objects.create(
        actor=user,
        actor_name=actor_name,
        actor_role=_actor_role(user, channel),
        channel=channel,
        action=action,
        object_type=object_type,
        object_repr=object_repr[:200],
        domain_id=domain_id,
        tenant_id=tenant.pk if tenant is not None else tenant_id,
        did=domain.did if domain is not None else did,
        before=before,
        after=after,
        group=_group.get(),
    )
    # Computed by the database: read back only if asked for.
    for field in ("domain_id", "tenant_id"):
        if isinstance(entry.__dict__[field], Subquery):
            del entry.__dict__[field]
    return entry
