"""Reads of the audit trail: who may see which entries, and under which actor names."""

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Case, Count, F, QuerySet, Value, When

from audit.models import ActorRole, AuditEntry, Channel
from domains.selectors import actor_is_operator, actor_tenant


def audit_entries_visible_to(actor) -> QuerySet[AuditEntry]:
    """Operators see every entry; a tenant the entries written while it owned the object,
    whoever its name was later given to. Each entry carries ``shown_actor``: the login for
    operators; for a tenant its own login, else only the role ("operator", "system")."""
    entries = AuditEntry.objects.select_related("tenant")
    if actor_is_operator(actor):
        return entries.annotate(shown_actor=F("actor_name"))
    tenant = actor_tenant(actor)
    if tenant is None:
        return entries.none()
    return entries.filter(tenant=tenant).annotate(
        shown_actor=Case(
            When(actor_id=actor.pk, then=F("actor_name")),
            When(actor_role=ActorRole.SYSTEM, then=Value(ActorRole.SYSTEM.value)),
            When(actor_role=ActorRole.TENANT, then=Value(ActorRole.TENANT.value)),
            default=Value(ActorRole.OPERATOR.value),
        )
    )


@dataclass(frozen=True)
class Run:
    """Entries of one run (request, command, job, task) that follow each other in a list."""

    group: UUID | None
    entries: list[AuditEntry]
    size: int  # the group's entries in all, here or not

    @property
    def first(self) -> AuditEntry:
        return self.entries[0]

    @property
    def kind(self) -> str:
        """What the run was: "web request", "command", ..."""
        channel = self.first.channel
        return Channel(channel).label if channel in Channel.values else f"{channel} run"


def audit_runs(actor, entries: list[AuditEntry]) -> list[Run]:
    """``entries`` in their order, those of one group that follow each other together, with
    how many entries each group has (one query, however many entries and groups)."""
    groups = {entry.group for entry in entries if entry.group is not None}
    sizes = (
        dict(
            audit_entries_visible_to(actor)
            .filter(group__in=groups)
            .order_by()
            .values_list("group")
            .annotate(size=Count("pk"))
        )
        if groups
        else {}
    )
    runs: list[Run] = []
    for entry in entries:
        if runs and entry.group is not None and runs[-1].group == entry.group:
            runs[-1].entries.append(entry)
        else:
            runs.append(Run(entry.group, [entry], sizes.get(entry.group, 1)))
    return runs
