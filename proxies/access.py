"""The database login a proxy uses: it may read the proxy-facing relations and nothing else.

"Nothing else" is checked, not assumed: an existing role may hold memberships, grants,
role attributes or objects from an earlier life. The grant refuses such a role, naming
each extra power, or with ``fix=True`` revokes them; either way it ends by reading the
catalogs again, so what it reports is what the role can do.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

# What the proxy reads, in settings.SERWEB_PROXY_SCHEMA (PostgreSQL) or the main schema.
# domain_attrs_htable and domain_attrs_none serve the htable variant of the reference
# configuration (attributes loaded by the htable module; domains migration 0005),
# domain_names_htable its htable index mode (proxies migration 0002).
PROXY_RELATIONS = (
    "version",
    "domain",
    "domain_attrs",
    "subscriber",
    "uri",
    "dbaliases",
    "domain_attrs_htable",
    "domain_attrs_none",
    "domain_names_htable",
)

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Role attributes that give powers beyond reading, and the ALTER ROLE word that drops each.
# SUPERUSER is not among them: a superuser is refused outright, never demoted.
_ATTRIBUTES = {
    "rolcreatedb": ("CREATEDB", "NOCREATEDB"),
    "rolcreaterole": ("CREATEROLE", "NOCREATEROLE"),
    "rolreplication": ("REPLICATION", "NOREPLICATION"),
    "rolbypassrls": ("BYPASSRLS", "NOBYPASSRLS"),
}
# The GRANT/REVOKE object keyword for each catalog holding access control lists.
_GRANT_KEYWORDS = {
    "pg_namespace": "SCHEMA",
    "pg_proc": "ROUTINE",
    "pg_type": "TYPE",
    "pg_database": "DATABASE",
    "pg_language": "LANGUAGE",
    "pg_largeobject": "LARGE OBJECT",
    "pg_foreign_data_wrapper": "FOREIGN DATA WRAPPER",
    "pg_foreign_server": "FOREIGN SERVER",
    "pg_tablespace": "TABLESPACE",
}
# ALTER DEFAULT PRIVILEGES ... ON <kind>, by pg_default_acl.defaclobjtype.
_DEFAULT_ACL_KINDS = {
    "r": "TABLES",
    "S": "SEQUENCES",
    "f": "FUNCTIONS",
    "T": "TYPES",
    "n": "SCHEMAS",
}
# Shown in an error at most; the rest are counted.
_MAX_LISTED = 20

# Every privilege the role holds in this database and on shared objects (databases,
# tablespaces), found through pg_shdepend as DROP OWNED finds them, whoever granted it.
# ``acl`` is NULL for a catalog this query does not know: such a grant is reported with
# a NULL privilege and never revoked blindly.
_GRANTS_SQL = """
WITH role AS (SELECT %(role)s::regrole::oid AS oid),
here AS (SELECT oid FROM pg_database WHERE datname = current_database()),
held AS (
    SELECT d.classid, d.objid, d.objsubid,
        CASE d.classid
            WHEN 'pg_class'::regclass THEN CASE
                WHEN d.objsubid = 0 THEN (SELECT relacl FROM pg_class WHERE oid = d.objid)
                ELSE (SELECT attacl FROM pg_attribute
                      WHERE attrelid = d.objid AND attnum = d.objsubid) END
            WHEN 'pg_namespace'::regclass THEN (SELECT nspacl FROM pg_namespace WHERE oid = d.objid)
            WHEN 'pg_proc'::regclass THEN (SELECT proacl FROM pg_proc WHERE oid = d.objid)
            WHEN 'pg_type'::regclass THEN (SELECT typacl FROM pg_type WHERE oid = d.objid)
            WHEN 'pg_database'::regclass THEN (SELECT datacl FROM pg_database WHERE oid = d.objid)
            WHEN 'pg_language'::regclass THEN (SELECT lanacl FROM pg_language WHERE oid = d.objid)
            WHEN 'pg_largeobject'::regclass THEN
                (SELECT lomacl FROM pg_largeobject_metadata WHERE oid = d.objid)
            WHEN 'pg_foreign_data_wrapper'::regclass THEN
                (SELECT fdwacl FROM pg_foreign_data_wrapper WHERE oid = d.objid)
            WHEN 'pg_foreign_server'::regclass THEN
                (SELECT srvacl FROM pg_foreign_server WHERE oid = d.objid)
            WHEN 'pg_tablespace'::regclass THEN (SELECT spcacl FROM pg_tablespace WHERE oid = d.objid)
            WHEN 'pg_default_acl'::regclass THEN
                (SELECT defaclacl FROM pg_default_acl WHERE oid = d.objid)
        END AS acl
    FROM pg_shdepend d, role, here
    WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = role.oid AND d.deptype = 'a'
        AND d.dbid IN (0, here.oid)
)
SELECT held.classid::regclass::text AS catalog, object.type AS kind, object.identity,
    entry.privilege_type AS privilege, coalesce(entry.is_grantable, false) AS grantable,
    coalesce((held.classid = 'pg_database'::regclass AND held.objid = here.oid
            AND entry.privilege_type = 'CONNECT')
        OR (held.classid = 'pg_namespace'::regclass AND held.objid = %(schema)s::regnamespace
            AND entry.privilege_type = 'USAGE')
        OR (held.classid = 'pg_class'::regclass AND held.objsubid = 0
            AND held.objid = ANY(%(relations)s::regclass[]) AND entry.privilege_type = 'SELECT'),
        false) AS expected,
    CASE WHEN held.classid = 'pg_class'::regclass AND held.objsubid <> 0 THEN
        (SELECT identity FROM pg_identify_object(held.classid, held.objid, 0)) END AS relation,
    CASE WHEN held.classid = 'pg_class'::regclass AND held.objsubid <> 0 THEN
        (SELECT quote_ident(attname) FROM pg_attribute
         WHERE attrelid = held.objid AND attnum = held.objsubid) END AS column_name,
    defacl.defaclrole::regrole::text AS defaults_of,
    (SELECT quote_ident(nspname) FROM pg_namespace WHERE oid = defacl.defaclnamespace)
        AS defaults_in,
    defacl.defaclobjtype::text AS defaults_for
FROM held CROSS JOIN here
CROSS JOIN LATERAL pg_identify_object(held.classid, held.objid, held.objsubid) object
LEFT JOIN pg_default_acl defacl
    ON held.classid = 'pg_default_acl'::regclass AND defacl.oid = held.objid
LEFT JOIN LATERAL (
    SELECT * FROM aclexplode(held.acl) e WHERE e.grantee = (SELECT oid FROM role)
) entry ON true
-- A known ACL that names the role only as a grantor gives it nothing.
WHERE held.acl IS NULL OR entry.privilege_type IS NOT NULL
ORDER BY 3, 4
"""


@dataclass(frozen=True)
class ExtraPower:
    """Something a role can do beyond reading the proxy relations."""

    text: str
    # The statement that takes it away; None where fixing is not serweb's call (what the
    # role owns, what it holds in another database, a kind of grant not known here).
    revoke: str | None


@dataclass(frozen=True)
class ProxyGrant:
    schema: str
    created: bool
    # What an existing role could do before and does no longer (``fix=True``).
    revoked: tuple[str, ...] = ()
    # An existing role without LOGIN got it: a proxy must be able to log in.
    login_added: bool = False


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _listed(powers: list[ExtraPower]) -> str:
    texts = [power.text for power in powers[:_MAX_LISTED]]
    if len(powers) > _MAX_LISTED:
        texts.append(f"and {len(powers) - _MAX_LISTED} more")
    return "; ".join(texts)


def _grant_power(held: dict, quoted_role: str) -> ExtraPower | None:
    """One row of _GRANTS_SQL as an extra power, or None for one the proxy needs."""
    kind, identity, privilege = held["kind"], held["identity"], held["privilege"]
    if privilege is None:
        return ExtraPower(f"privileges on {kind} {identity}", None)
    if held["expected"] and not held["grantable"]:
        return None
    with_option = " WITH GRANT OPTION" if held["grantable"] else ""
    catalog = held["catalog"]
    if held["expected"]:
        # Of a privilege the proxy needs, only the grant option is extra.
        what = f"GRANT OPTION FOR {privilege}"
        text = f"the grant option of {privilege} on {kind} {identity}"
    elif catalog == "pg_default_acl":
        what, text = privilege, f"{privilege}{with_option} by default ({identity})"
    else:
        what, text = privilege, f"{privilege}{with_option} on {kind} {identity}"
    if catalog == "pg_default_acl":
        objects = _DEFAULT_ACL_KINDS.get(held["defaults_for"])
        if objects is None:
            return ExtraPower(text, None)
        in_schema = f" IN SCHEMA {held['defaults_in']}" if held["defaults_in"] else ""
        return ExtraPower(
            text,
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {held['defaults_of']}{in_schema} "
            f"REVOKE {what} ON {objects} FROM {quoted_role}",
        )
    if catalog == "pg_class" and held["column_name"] is not None:
        return ExtraPower(
            text,
            f"REVOKE {what} ({held['column_name']}) ON TABLE {held['relation']} FROM {quoted_role}",
        )
    if catalog == "pg_class":
        keyword = "SEQUENCE" if kind == "sequence" else "TABLE"
    elif catalog in _GRANT_KEYWORDS:
        keyword = _GRANT_KEYWORDS[catalog]
    else:
        return ExtraPower(text, None)
    return ExtraPower(text, f"REVOKE {what} ON {keyword} {identity} FROM {quoted_role}")


def _extra_powers(cursor, *, role: str, schema: str) -> list[ExtraPower]:
    """All the role can do beyond CONNECT here, USAGE on ``schema`` and SELECT on the
    proxy relations: role attributes, memberships, other grants, ownership."""
    quoted_role = _quote(role)
    powers: list[ExtraPower] = []
    cursor.execute(
        f"SELECT {', '.join(_ATTRIBUTES)} FROM pg_roles WHERE rolname = %s",
        [role],
    )
    for held, (name, opposite) in zip(cursor.fetchone(), _ATTRIBUTES.values(), strict=True):
        if held:
            powers.append(ExtraPower(name, f"ALTER ROLE {quoted_role} {opposite}"))
    # A membership is a power even under NOINHERIT: the member may SET ROLE to it.
    cursor.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "WHERE m.member = %s::regrole ORDER BY 1",
        [role],
    )
    for (granted,) in cursor.fetchall():
        powers.append(
            ExtraPower(f"member of {granted}", f"REVOKE {_quote(granted)} FROM {quoted_role}")
        )
    cursor.execute(
        _GRANTS_SQL,
        {
            "role": role,
            "schema": schema,
            "relations": [f"{_quote(schema)}.{relation}" for relation in PROXY_RELATIONS],
        },
    )
    columns = [column.name for column in cursor.description]
    for row in cursor.fetchall():
        power = _grant_power(dict(zip(columns, row, strict=True)), quoted_role)
        if power is not None:
            powers.append(power)
    cursor.execute(
        "SELECT o.type, o.identity FROM pg_shdepend d "
        "CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) o "
        "WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = %s::regrole "
        "AND d.deptype = 'o' AND d.dbid IN "
        "(0, (SELECT oid FROM pg_database WHERE datname = current_database())) ORDER BY 1, 2",
        [role],
    )
    for kind, identity in cursor.fetchall():
        powers.append(ExtraPower(f"owns {kind} {identity}", None))
    # Catalogs of other databases cannot be read from here: say where to look.
    cursor.execute(
        "SELECT DISTINCT db.datname FROM pg_shdepend d JOIN pg_database db ON db.oid = d.dbid "
        "WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = %s::regrole "
        "AND db.datname <> current_database() ORDER BY 1",
        [role],
    )
    for (database,) in cursor.fetchall():
        powers.append(ExtraPower(f"holds privileges or objects in database {database}", None))
    return powers


def _refuse(role: str, powers: list[ExtraPower], *, fix: bool) -> None:
    """Raise for what the role may not keep; return when ``fix`` may revoke it all."""
    unfixable = [power for power in powers if power.revoke is None]
    if not powers or (fix and not unfixable):
        return
    message = f"role {role} can do more than read the proxy relations: {_listed(powers)}"
    if unfixable:
        message += (
            f". Nothing was changed; --fix cannot take away: {_listed(unfixable)} "
            "(reassign or drop what the role owns, revoke what it holds in other databases, "
            "or choose a role of its own)"
        )
    else:
        message += f". Nothing was changed; `proxy grant {role} --fix` revokes them"
    raise ValidationError(message)


@transaction.atomic
def proxy_role_grant(*, role: str, password: str | None = None, fix: bool = False) -> ProxyGrant:
    """Create (or update) a PostgreSQL login ``role`` that can SELECT the proxy relations
    and nothing else, with its search_path set to the proxy schema, as Kamailio names its
    tables without a schema.

    An existing role that can do more is refused, naming each extra power; with ``fix``
    its grants, memberships and attributes are revoked instead (never what it owns)."""
    if connection.vendor != "postgresql":
        raise ValidationError("a proxy role exists only on PostgreSQL")
    if not _ROLE.match(role or ""):
        raise ValidationError(f"role {role!r}: use a lower-case SQL identifier")
    schema = settings.SERWEB_PROXY_SCHEMA
    quoted_role = _quote(role)
    revoked: list[str] = []
    login_added = False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcanlogin, rolname IN (current_user, session_user) "
            "FROM pg_roles WHERE rolname = %s",
            [role],
        )
        row = cursor.fetchone()
        created = row is None
        if created:
            cursor.execute(
                f"CREATE ROLE {quoted_role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOINHERIT NOREPLICATION"
            )
        else:
            superuser, can_login, is_serweb = row
            if superuser:
                raise ValidationError(f"role {role} is a superuser; choose a role of its own")
            if is_serweb:
                raise ValidationError(
                    f"role {role} is the login serweb runs as; choose a role of its own"
                )
            powers = _extra_powers(cursor, role=role, schema=schema)
            _refuse(role, powers, fix=fix)
            for power in powers:
                cursor.execute(power.revoke)
                revoked.append(power.text)
            if not can_login:
                cursor.execute(f"ALTER ROLE {quoted_role} LOGIN")
                login_added = True
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
        # REVOKE by anyone but the grantor (or the owner, for a superuser) leaves the
        # privilege in place without an error; this is where that shows.
        left = _extra_powers(cursor, role=role, schema=schema)
        if left:
            raise ValidationError(
                f"role {role} could not be limited to reading the proxy relations; it still "
                f"has: {_listed(left)}. Nothing was changed: revoke these as whoever granted "
                "them"
            )
    return ProxyGrant(schema, created, tuple(revoked), login_added)
