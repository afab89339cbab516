from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.models import F

import domains.models


def waiting_claims_expire(apps, schema_editor):
    """Claims waiting so far get the expiry new ones get; of several tenants waiting for
    one name, the first to ask keeps it (one tenant at a time waits for a name)."""
    claims = apps.get_model("domains", "DomainClaim").objects.filter(verified_at__isnull=True)
    first: set[str] = set()
    later = []
    for pk, name in claims.order_by("name", "created_at", "pk").values_list("pk", "name"):
        if name in first:
            later.append(pk)
        first.add(name)
    claims.filter(pk__in=later).delete()
    keep_for = timedelta(hours=settings.SERWEB_CLAIM_EXPIRY_HOURS)
    claims.update(expires_at=F("created_at") + keep_for)


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0010_name_lifecycle"),
    ]

    operations = [
        migrations.AddField(
            model_name="domaincheck",
            name="warned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="domainclaim",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="tenant",
            name="domain_quota",
            field=models.PositiveIntegerField(default=domains.models.default_domain_quota),
        ),
        migrations.AddField(
            model_name="tenant",
            name="pending_claim_limit",
            field=models.PositiveIntegerField(default=domains.models.default_pending_claim_limit),
        ),
        migrations.RunPython(waiting_claims_expire, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="domainclaim",
            constraint=models.UniqueConstraint(
                condition=models.Q(("verified_at__isnull", True)),
                fields=("name",),
                name="domainclaim_one_waiting_per_name",
            ),
        ),
    ]
