"""Every host name of a domain has a DNS lifecycle of its own (NameCheck), and the domain's
DNS history says which name moved (DomainTransition.name).

The proxy-facing ``domain`` relation leaves out a name that housekeeping disabled or
removed, while the domain and its other names stay served. Its columns stay Kamailio's
stock ones (tests/test_proxy_contract.py), so PostgreSQL replaces the view in place; no
name has a check row yet, so the rows it shows do not change.
"""

import importlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

PROXY_RELATIONS = importlib.import_module("domains.migrations.0002_proxy_relations")

SERVED = "d.enabled AND d.state IN ('active', 'suspect')"
NAME_SERVED = (
    "NOT EXISTS (SELECT 1 FROM domains_namecheck c "
    "WHERE c.name_id = n.id AND c.state IN ('disabled', 'removed'))"
)

DOMAIN_VIEW = (
    f"""
    SELECT n.id::integer AS id,
           n.name::varchar(64) AS domain,
           d.did::varchar(64) AS did,
           (d.updated_at AT TIME ZONE 'UTC')::timestamp AS last_modified
    FROM domains_domainname n JOIN domains_domain d ON d.id = n.domain_id
    WHERE {SERVED} AND {NAME_SERVED}
    """,
    f"""
    SELECT n.id AS id, n.name AS domain, d.did AS did, d.updated_at AS last_modified
    FROM domains_domainname n JOIN domains_domain d ON d.id = n.domain_id
    WHERE {SERVED} AND {NAME_SERVED}
    """,
)


def _define_domain_view(schema_editor, postgres_body: str, sqlite_body: str) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            schema = settings.SERWEB_PROXY_SCHEMA
            cursor.execute(f'CREATE OR REPLACE VIEW "{schema}".domain AS {postgres_body}')
        elif connection.vendor == "sqlite":
            cursor.execute("DROP VIEW IF EXISTS domain")
            cursor.execute(f"CREATE VIEW domain AS {sqlite_body}")
        else:
            raise RuntimeError(f"serweb supports PostgreSQL and SQLite, not {connection.vendor}")


def serve_only_served_names(apps, schema_editor):
    _define_domain_view(schema_editor, *DOMAIN_VIEW)


def serve_every_name(apps, schema_editor):
    (_name, postgres_body, sqlite_body) = next(
        view for view in PROXY_RELATIONS.VIEWS if view[0] == "domain"
    )
    _define_domain_view(schema_editor, postgres_body, sqlite_body)


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0009_tenant_confirmed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="domaintransition",
            name="name",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.CreateModel(
            name="NameCheck",
            fields=[
                (
                    "verdict",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("ours", "points at us"),
                            ("partial", "partly points at us"),
                            ("foreign", "points elsewhere"),
                            ("unavailable", "SIP deliberately not offered"),
                            ("absent", "nothing published"),
                            ("unknown", "DNS did not answer"),
                        ],
                        max_length=16,
                    ),
                ),
                ("outcome", models.CharField(blank=True, default="", max_length=16)),
                ("reason", models.CharField(blank=True, default="", max_length=255)),
                ("evidence", models.JSONField(blank=True, default=dict)),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_positive_at", models.DateTimeField(blank=True, null=True)),
                ("negatives", models.PositiveIntegerField(default=0)),
                ("first_negative_at", models.DateTimeField(blank=True, null=True)),
                ("last_negative_at", models.DateTimeField(blank=True, null=True)),
                ("unknowns", models.PositiveIntegerField(default=0)),
                (
                    "name",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="dns_check",
                        serialize=False,
                        to="domains.domainname",
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("active", "active"),
                            ("suspect", "suspect (DNS no longer points at us; still served)"),
                            ("disabled", "disabled by DNS housekeeping (not served)"),
                            ("removed", "removed (restorable)"),
                        ],
                        default="active",
                        max_length=16,
                    ),
                ),
                ("state_changed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("exempt", models.BooleanField(default=False)),
            ],
            options={
                "indexes": [models.Index(fields=["state"], name="domains_nam_state_c56238_idx")],
            },
        ),
        migrations.RunPython(serve_only_served_names, serve_every_name),
    ]
