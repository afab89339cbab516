"""Proxy and ReloadState move from the domains app to this one, data untouched.

Only Django's idea of which app owns them changes (SeparateDatabaseAndState, no database
operation): the tables keep their names (domains_proxy, domains_reloadstate), their rows
and their sequences. Their content types follow, so the admin's history and any permission
granted on them stay attached. The proxy-facing views (domains migrations 0002 and 0005)
read neither table and are not touched.
"""

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

MODELS = ("proxy", "reloadstate")


def _move_content_types(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    # One the target app has already (made by a run that went back and forth) stays; the
    # source's is then stale, for `remove_stale_contenttypes`.
    present = ContentType.objects.filter(app_label=target).values_list("model", flat=True)
    ContentType.objects.filter(app_label=source, model__in=MODELS).exclude(
        model__in=list(present)
    ).update(app_label=target)


def content_types_to_proxies(apps, schema_editor) -> None:
    _move_content_types(apps, "domains", "proxies")


def content_types_to_domains(apps, schema_editor) -> None:
    _move_content_types(apps, "proxies", "domains")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("domains", "0007_housekeeping_one_running_run_per_slot"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Proxy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=64, unique=True)),
                        (
                            "transport",
                            models.CharField(
                                choices=[
                                    ("fifo", "JSON-RPC over the local FIFO"),
                                    ("udp", "JSON-RPC over UDP (datagram)"),
                                    ("http", "JSON-RPC over HTTP"),
                                ],
                                max_length=8,
                            ),
                        ),
                        ("address", models.CharField(max_length=255)),
                        ("enabled", models.BooleanField(default=True)),
                        ("sip_address", models.CharField(blank=True, default="", max_length=255)),
                        ("applied_generation", models.BigIntegerField(default=0)),
                        ("applied_changed_at", models.DateTimeField(blank=True, null=True)),
                        ("last_reload_at", models.DateTimeField(blank=True, null=True)),
                        ("last_reload_seconds", models.FloatField(blank=True, null=True)),
                        ("reload_count", models.BigIntegerField(default=0)),
                        ("last_verified_at", models.DateTimeField(blank=True, null=True)),
                        ("reload_scheduled_at", models.DateTimeField(blank=True, null=True)),
                        ("reloading_since", models.DateTimeField(blank=True, null=True)),
                        ("failures", models.PositiveIntegerField(default=0)),
                        ("next_retry_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True, default="")),
                        ("last_error_at", models.DateTimeField(blank=True, null=True)),
                        ("shm_total", models.BigIntegerField(blank=True, null=True)),
                        ("shm_free", models.BigIntegerField(blank=True, null=True)),
                        ("shm_checked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now(),
                                default=django.utils.timezone.now,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "proxies",
                        "db_table": "domains_proxy",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="ReloadState",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("desired_generation", models.BigIntegerField(default=0)),
                        (
                            "changed_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now(),
                                default=django.utils.timezone.now,
                            ),
                        ),
                    ],
                    options={"db_table": "domains_reloadstate"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_proxies, content_types_to_domains),
    ]
