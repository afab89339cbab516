"""The database login a proxy uses: it may read the proxy-facing relations and nothing else."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

# What the proxy reads, in settings.SERWEB_PROXY_SCHEMA (PostgreSQL) or the main schema.
# domain_attrs_htable and domain_attrs_none serve the htable variant of the reference
# configuration (attributes loaded by the htable module; migration 0005).
PROXY_RELATIONS = (
    "version",
    "domain",
    "domain_attrs",
    "subscriber",
    "uri",
    "dbaliases",
    "domain_attrs_htable",
    "domain_attrs_none",
)

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@transaction.atomic
def proxy_role_grant(*, role: str, password: str | None = None) -> str:
    """Create (or update) a PostgreSQL login ``role`` that can SELECT the proxy relations
    and nothing else, with its search_path set to the proxy schema, as Kamailio names its
    tables without a schema. Returns the schema name."""
    if connection.vendor != "postgresql":
        raise ValidationError("a proxy role exists only on PostgreSQL")
    if not _ROLE.match(role or ""):
        raise ValidationError(f"role {role!r}: use a lower-case SQL identifier")
    schema = settings.SERWEB_PROXY_SCHEMA
    quoted_role = _quote(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                f"CREATE ROLE {quoted_role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOINHERIT NOREPLICATION"
            )
        elif row[0]:
            raise ValidationError(f"role {role} is a superuser; choose a role of its own")
        if password is not None:
            # Parameters are not allowed in utility statements; quote as a literal.
            cursor.execute("SELECT quote_literal(%s)", [password])
            (literal,) = cursor.fetchone()
            cursor.execute(f"ALTER ROLE {quoted_role} PASSWORD {literal}")
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
        cursor.execute(f"GRANT CONNECT ON DATABASE {_quote(database)} TO {quoted_role}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {_quote(schema)} TO {quoted_role}")
        for relation in PROXY_RELATIONS:
            cursor.execute(f"GRANT SELECT ON {_quote(schema)}.{relation} TO {quoted_role}")
        cursor.execute(
            f"ALTER ROLE {quoted_role} IN DATABASE {_quote(database)} "
            f"SET search_path = {_quote(schema)}"
        )
    return schema
