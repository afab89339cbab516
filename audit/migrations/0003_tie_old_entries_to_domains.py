"""A domain and an owner for the entries written before 0002, as far as their did tells.
Its own migration: on PostgreSQL, row updates in 0002's transaction would hold up the
indexes 0002 creates at its end."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def tie_entries_to_domains_and_owners(apps, schema_editor):
    """Until now an entry knew only its did. The only owner there is to give it is the
    domain holding that did today and that domain's tenant today, and only for entries
    written since that domain was created: older ones are about an earlier domain of the
    same did, whose owner nobody recorded, so they stay with the operators."""
    entries = apps.get_model("audit", "AuditEntry").objects
    current = apps.get_model("domains", "Domain").objects.filter(
        did=OuterRef("did"), created_at__lte=OuterRef("created_at")
    )
    entries.exclude(did="").update(
        domain_id=Subquery(current.values("pk")[:1]),
        tenant_id=Subquery(current.values("tenant_id")[:1]),
    )
    entries.filter(actor__is_staff=True).update(actor_role="operator")
    entries.filter(actor__is_staff=False).update(actor_role="tenant")
    # The CLI is the operators' tool; a deleted account's role is unknown: not shown as a
    # name to tenants either way.
    entries.filter(actor__isnull=True, channel="cli").update(actor_role="operator")
    entries.filter(actor__isnull=True).exclude(actor_name="system").update(actor_role="operator")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_entry_domain_tenant_actor_role")]

    operations = [
        migrations.RunPython(tie_entries_to_domains_and_owners, migrations.RunPython.noop),
    ]
