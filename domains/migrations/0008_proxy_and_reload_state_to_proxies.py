"""Proxy and ReloadState now belong to the proxies app (its migration 0001): they leave
this app's state only. No database operation: the tables, their rows and the proxy-facing
views stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0007_housekeeping_one_running_run_per_slot"),
        ("proxies", "0001_proxy_and_reload_state_from_domains"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Proxy"),
                migrations.DeleteModel(name="ReloadState"),
            ],
            database_operations=[],
        ),
    ]
