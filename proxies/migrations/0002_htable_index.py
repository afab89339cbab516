"""The htable index mode: the proxy's domain index as a hash table of module htable,
kept up to date change by change.

- ``domain_names_htable`` (a view in the proxy schema, read by the proxy's role): htable's
  columns (key_name, key_type, value_type, key_value, expires, as domain_attrs_htable of
  domains migration 0005), one row per served name: key the name (stored lower case),
  value its did. Built on the ``domain`` view, so it holds exactly the names the domain
  module would load. The reference configuration's WITH_HTABLE_DOMAINS variant loads it
  into the hash table ``domnames`` at start and on ``htable.reload``.
- IndexEntry: the change log those proxies are sent changes from (proxies/index_log.py).
  Empty here, with no log generation: the first reload in that mode builds it.
- Proxy.proxy_started_at, full_reload_due and update_count, ReloadState.log_generation and log_floor.
"""

from django.conf import settings
from django.db import migrations, models

VIEW = "domain_names_htable"
POSTGRES_BODY = """
    SELECT d.id::integer AS id,
           d.domain::varchar(64) AS key_name,
           0::integer AS key_type,
           0::integer AS value_type,
           d.did::varchar(128) AS key_value,
           0::integer AS expires
    FROM {prefix}domain d
"""
SQLITE_BODY = """
    SELECT d.id AS id, d.domain AS key_name, 0 AS key_type, 0 AS value_type,
           d.did AS key_value, 0 AS expires
    FROM domain d
"""


def _prefix(connection) -> str:
    if connection.vendor == "postgresql":
        return f'"{settings.SERWEB_PROXY_SCHEMA}".'
    if connection.vendor == "sqlite":
        return ""
    raise RuntimeError(f"serweb supports PostgreSQL and SQLite, not {connection.vendor}")


def create_view(apps, schema_editor):
    connection = schema_editor.connection
    prefix = _prefix(connection)
    if connection.vendor == "postgresql":
        body = POSTGRES_BODY.format(prefix=prefix)
    else:
        body = SQLITE_BODY
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE VIEW {prefix}{VIEW} AS {body}")


def drop_view(apps, schema_editor):
    prefix = _prefix(schema_editor.connection)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW IF EXISTS {prefix}{VIEW}")


class Migration(migrations.Migration):
    dependencies = [
        ("proxies", "0001_proxy_and_reload_state_from_domains"),
        # The view is built on the domain view (domains 0002).
        ("domains", "0008_proxy_and_reload_state_to_proxies"),
    ]

    operations = [
        migrations.AddField(
            model_name="proxy",
            name="proxy_started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="proxy",
            name="full_reload_due",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="proxy",
            name="update_count",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="reloadstate",
            name="log_floor",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="reloadstate",
            name="log_generation",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="IndexEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "table",
                    models.CharField(
                        choices=[
                            ("names", "domain names (name -> did)"),
                            ("attrs", "domain attributes (did:name -> value)"),
                        ],
                        max_length=5,
                    ),
                ),
                ("key", models.CharField(max_length=100)),
                ("value", models.CharField(blank=True, max_length=255, null=True)),
                ("is_int", models.BooleanField(default=False)),
                ("did", models.CharField(max_length=64)),
                ("generation", models.BigIntegerField()),
            ],
            options={
                "indexes": [
                    models.Index(fields=["generation"], name="indexentry_generation"),
                    models.Index(fields=["did"], name="indexentry_did"),
                    models.Index(
                        condition=models.Q(("value__isnull", True)),
                        fields=["generation"],
                        name="indexentry_tombstones",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("table", "key"), name="indexentry_one_per_key")
                ],
            },
        ),
        migrations.RunPython(create_view, drop_view),
    ]
