"""Shared test helpers: reading what the proxy reads."""

from django.conf import settings
from django.db import connection


def proxy_relation(name: str) -> str:
    """The proxy-facing relation as SQL: schema-qualified on PostgreSQL."""
    if connection.vendor == "postgresql":
        return f'"{settings.SERWEB_PROXY_SCHEMA}".{name}'
    return name


def proxy_rows(name: str, columns: str) -> list[tuple]:
    """Rows of a proxy-facing relation, sorted, as the proxy would read them."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {proxy_relation(name)} ORDER BY {columns}")
        return [tuple(row) for row in cursor.fetchall()]
