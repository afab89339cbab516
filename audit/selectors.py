"""Reads of the audit trail: who may see which entries, and under which actor names."""

from django.db.models import Case, F, QuerySet, Value, When

from audit.models import ActorRole, AuditEntry
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
