"""The relations Kamailio 5.6 reads, as views over serweb's tables.

PostgreSQL: a schema of their own (settings.SERWEB_PROXY_SCHEMA) so a read-only login role
with that schema as its search_path sees Kamailio's table names and nothing else.
SQLite: the same views in its single schema.

Only served domains (enabled, state active or suspect) appear; integer attributes that do
not parse are left out rather than failing the proxy's whole reload. A later migration
that alters a column these views use must drop and recreate them.
"""

from django.conf import settings
from django.db import migrations

SERVED = "d.enabled AND d.state IN ('active', 'suspect')"

# (name, PostgreSQL body, SQLite body)
VIEWS = [
    (
        "domain",
        f"""
        SELECT n.id::integer AS id,
               n.name::varchar(64) AS domain,
               d.did::varchar(64) AS did,
               (d.updated_at AT TIME ZONE 'UTC')::timestamp AS last_modified
        FROM domains_domainname n JOIN domains_domain d ON d.id = n.domain_id
        WHERE {SERVED}
        """,
        f"""
        SELECT n.id AS id, n.name AS domain, d.did AS did, d.updated_at AS last_modified
        FROM domains_domainname n JOIN domains_domain d ON d.id = n.domain_id
        WHERE {SERVED}
        """,
    ),
    (
        "domain_attrs",
        f"""
        SELECT a.id::integer AS id,
               d.did::varchar(64) AS did,
               a.name::varchar(32) AS name,
               a.type::integer AS type,
               a.value::varchar(255) AS value,
               (a.updated_at AT TIME ZONE 'UTC')::timestamp AS last_modified
        FROM domains_domainattribute a JOIN domains_domain d ON d.id = a.domain_id
        WHERE {SERVED}
          AND NOT a.is_default
          AND a.name <> '' AND d.did <> ''
          AND (a.type = 2 OR (a.type = 0 AND a.value ~ '^[+-]?[0-9]{{1,10}}$'))
          AND (a.source = 'operator' OR NOT EXISTS (
                SELECT 1 FROM domains_domainattribute o
                WHERE o.domain_id = a.domain_id AND o.name = a.name
                  AND o.source = 'operator'))
        """,
        f"""
        SELECT a.id AS id, d.did AS did, a.name AS name, a.type AS type, a.value AS value,
               a.updated_at AS last_modified
        FROM domains_domainattribute a JOIN domains_domain d ON d.id = a.domain_id
        WHERE {SERVED}
          AND NOT a.is_default
          AND a.name <> '' AND d.did <> ''
          AND (a.type = 2 OR (a.type = 0 AND CAST(CAST(a.value AS INTEGER) AS TEXT) = a.value))
          AND (a.source = 'operator' OR NOT EXISTS (
                SELECT 1 FROM domains_domainattribute o
                WHERE o.domain_id = a.domain_id AND o.name = a.name
                  AND o.source = 'operator'))
        """,
    ),
    (
        "subscriber",
        # The clear password never reaches the proxy: it authenticates with the hashes.
        f"""
        SELECT s.id::integer AS id,
               s.username::varchar(64) AS username,
               d.did::varchar(64) AS domain,
               ''::varchar(64) AS password,
               s.ha1::varchar(128) AS ha1,
               s.ha1b::varchar(128) AS ha1b
        FROM subscribers_subscriber s JOIN domains_domain d ON d.id = s.domain_id
        WHERE {SERVED} AND s.enabled
        """,
        f"""
        SELECT s.id AS id, s.username AS username, d.did AS domain, '' AS password,
               s.ha1 AS ha1, s.ha1b AS ha1b
        FROM subscribers_subscriber s JOIN domains_domain d ON d.id = s.domain_id
        WHERE {SERVED} AND s.enabled
        """,
    ),
    (
        "uri",
        f"""
        SELECT v.id::integer AS id,
               s.username::varchar(64) AS username,
               d.did::varchar(64) AS domain,
               v.from_user::varchar(64) AS uri_user,
               (v.created_at AT TIME ZONE 'UTC')::timestamp AS last_modified
        FROM subscribers_validfrom v
             JOIN subscribers_subscriber s ON s.id = v.subscriber_id
             JOIN domains_domain d ON d.id = s.domain_id
        WHERE {SERVED} AND s.enabled
        """,
        f"""
        SELECT v.id AS id, s.username AS username, d.did AS domain, v.from_user AS uri_user,
               v.created_at AS last_modified
        FROM subscribers_validfrom v
             JOIN subscribers_subscriber s ON s.id = v.subscriber_id
             JOIN domains_domain d ON d.id = s.domain_id
        WHERE {SERVED} AND s.enabled
        """,
    ),
    (
        "dbaliases",
        """
        SELECT a.id::integer AS id,
               a.username::varchar(64) AS alias_username,
               ad.did::varchar(64) AS alias_domain,
               s.username::varchar(64) AS username,
               d.did::varchar(64) AS domain
        FROM subscribers_useralias a
             JOIN domains_domain ad ON ad.id = a.domain_id
             JOIN subscribers_subscriber s ON s.id = a.subscriber_id
             JOIN domains_domain d ON d.id = s.domain_id
        WHERE ad.enabled AND ad.state IN ('active', 'suspect')
          AND d.enabled AND d.state IN ('active', 'suspect') AND s.enabled
        """,
        """
        SELECT a.id AS id, a.username AS alias_username, ad.did AS alias_domain,
               s.username AS username, d.did AS domain
        FROM subscribers_useralias a
             JOIN domains_domain ad ON ad.id = a.domain_id
             JOIN subscribers_subscriber s ON s.id = a.subscriber_id
             JOIN domains_domain d ON d.id = s.domain_id
        WHERE ad.enabled AND ad.state IN ('active', 'suspect')
          AND d.enabled AND d.state IN ('active', 'suspect') AND s.enabled
        """,
    ),
]

# The rows Kamailio 5.6 checks at start; a missing or different one stops it.
TABLE_VERSIONS = [
    ("version", 1),
    ("domain", 2),
    ("domain_attrs", 1),
    ("subscriber", 7),
    ("uri", 1),
    ("dbaliases", 1),
]


def _postgres(cursor, schema):
    cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    cursor.execute(
        f"""CREATE TABLE "{schema}".version (
            id SERIAL PRIMARY KEY NOT NULL,
            table_name VARCHAR(32) NOT NULL,
            table_version INTEGER DEFAULT 0 NOT NULL,
            CONSTRAINT version_table_name_idx UNIQUE (table_name))"""
    )
    for name, body, _ in VIEWS:
        cursor.execute(f'CREATE VIEW "{schema}".{name} AS {body}')
    return f'"{schema}".version'


def _sqlite(cursor):
    cursor.execute(
        """CREATE TABLE version (
            id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
            table_name VARCHAR(32) NOT NULL UNIQUE,
            table_version INTEGER DEFAULT 0 NOT NULL)"""
    )
    for name, _, body in VIEWS:
        cursor.execute(f"CREATE VIEW {name} AS {body}")
    return "version"


def create_relations(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            version_table = _postgres(cursor, settings.SERWEB_PROXY_SCHEMA)
        elif connection.vendor == "sqlite":
            version_table = _sqlite(cursor)
        else:
            raise RuntimeError(f"serweb supports PostgreSQL and SQLite, not {connection.vendor}")
        cursor.executemany(
            f"INSERT INTO {version_table} (table_name, table_version) VALUES (%s, %s)",
            TABLE_VERSIONS,
        )
    apps.get_model("domains", "ReloadState").objects.get_or_create(pk=1)


def drop_relations(apps, schema_editor):
    connection = schema_editor.connection
    prefix = f'"{settings.SERWEB_PROXY_SCHEMA}".' if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for name, _, _ in reversed(VIEWS):
            cursor.execute(f"DROP VIEW IF EXISTS {prefix}{name}")
        cursor.execute(f"DROP TABLE IF EXISTS {prefix}version")


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0001_initial"),
        ("subscribers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_relations, drop_relations)]
