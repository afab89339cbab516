"""Per-domain attributes for Kamailio's htable module, which loads them linearly.

Kamailio's domain module loads domain_attrs in time quadratic in the number of dids that
have attributes (minutes for 100k). The htable module loads a table in one scan into a
hash table and reloads it with its own RPC (``htable.reload``). Two relations serve the
reference configuration's htable variant (deploy/kamailio/kamailio.cfg, WITH_HTABLE_ATTRS):

- ``domain_attrs_htable``: htable's columns (key_name, key_type, value_type, key_value,
  expires, as in Kamailio's htable-create.sql), one row per served attribute: key
  ``<did>:<name>`` (names have no colon, so the last one separates them), key_type 0 (a
  plain key), value_type 1 for integers and 0 for strings. Built on the domain_attrs view,
  so the rows are exactly the ones the domain module would load: served domains only, no
  default-valued rows, the operator's value over the DNS one, integers always integers.
  key_name and key_value are wider than the stock columns (64 and 128): a did takes up to
  64 characters and a name 32, a value up to 255. htable has no version row to check.
- ``domain_attrs_none``: domain_attrs' columns and no rows, for the domain module of that
  variant, so it does not load the attributes a second time. Its version row is 1, as the
  domain module checks the version of the table it is given.
"""

from django.conf import settings
from django.db import migrations

KEY_LENGTH = 64 + 1 + 32

# (name, body); the same SQL serves PostgreSQL and SQLite apart from the casts.
VIEWS = [
    (
        "domain_attrs_htable",
        f"""
        SELECT a.id::integer AS id,
               (a.did || ':' || a.name)::varchar({KEY_LENGTH}) AS key_name,
               0::integer AS key_type,
               (CASE WHEN a.type = 0 THEN 1 ELSE 0 END)::integer AS value_type,
               a.value::varchar(255) AS key_value,
               0::integer AS expires
        FROM {{schema}}domain_attrs a
        """,
        """
        SELECT a.id AS id, a.did || ':' || a.name AS key_name, 0 AS key_type,
               CASE WHEN a.type = 0 THEN 1 ELSE 0 END AS value_type, a.value AS key_value,
               0 AS expires
        FROM domain_attrs a
        """,
    ),
    (
        "domain_attrs_none",
        "SELECT * FROM {schema}domain_attrs WHERE false",
        "SELECT * FROM domain_attrs WHERE 0",
    ),
]

TABLE_VERSIONS = [("domain_attrs_none", 1)]


def _prefix(connection) -> str:
    if connection.vendor == "postgresql":
        return f'"{settings.SERWEB_PROXY_SCHEMA}".'
    if connection.vendor == "sqlite":
        return ""
    raise RuntimeError(f"serweb supports PostgreSQL and SQLite, not {connection.vendor}")


def create_relations(apps, schema_editor):
    connection = schema_editor.connection
    prefix = _prefix(connection)
    with connection.cursor() as cursor:
        for name, postgres_body, sqlite_body in VIEWS:
            if connection.vendor == "postgresql":
                body = postgres_body.format(schema=prefix)
            else:
                body = sqlite_body
            cursor.execute(f"CREATE VIEW {prefix}{name} AS {body}")
        cursor.executemany(
            f"INSERT INTO {prefix}version (table_name, table_version) VALUES (%s, %s)",
            TABLE_VERSIONS,
        )


def drop_relations(apps, schema_editor):
    connection = schema_editor.connection
    prefix = _prefix(connection)
    with connection.cursor() as cursor:
        for name, _, _ in reversed(VIEWS):
            cursor.execute(f"DROP VIEW IF EXISTS {prefix}{name}")
        cursor.executemany(
            f"DELETE FROM {prefix}version WHERE table_name = %s",
            [(name,) for name, _ in TABLE_VERSIONS],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0004_dns_verification"),
    ]

    operations = [migrations.RunPython(create_relations, drop_relations)]
