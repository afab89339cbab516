import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def confirmed_when_created(apps, schema_editor):
    # Every tenant so far was made by an operator: confirmed from the start.
    apps.get_model("domains", "Tenant").objects.update(confirmed_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0008_proxy_and_reload_state_to_proxies"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="confirmed_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.RunPython(confirmed_when_created, migrations.RunPython.noop),
    ]
