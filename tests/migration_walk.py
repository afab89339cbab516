"""The upgrade walk: every migration of the graph applied one at a time with `migrate`,
from an empty database, with data written by the models of each step's own release, and
the proxy-facing relations read before and after every step.

A step passes when `migrate` succeeds and every relation the proxy could read before is
still there with the same columns and the same rows. (A migration meant to change what
the proxy sees says so with a ``proxy_rows_change = "why"`` attribute; its relations
must still be there with their columns.) New relations may appear.

Run as a program in a process of its own, with DATABASE_URL naming a scratch database
(tests/test_migration_walk.py does): the migrations' RunPython steps use the default
database, so the scratch database has to be it. Prints one JSON report on stdout.

    python -m tests.migration_walk                  # the walk
    python -m tests.migration_walk --break rebuild  # then a migration that rebuilds a
                                                    # table under the views (must fail)
    python -m tests.migration_walk --break hide     # one that hides served rows (likewise)
"""

import argparse
import json
import os
import sys


def _relations(connection, schema: str) -> dict[str, dict]:
    """Every relation the proxy may read: its columns and its rows, sorted."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [schema],
            )
            prefix = f'"{schema}".'
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'view' OR (type = 'table' "
                "AND name = 'version')"
            )
            prefix = ""
        names = sorted(row[0] for row in cursor.fetchall())
        found = {}
        for name in names:
            cursor.execute(f"SELECT * FROM {prefix}{name}")
            columns = [column[0] for column in cursor.description]
            rows = sorted([str(value) for value in row] for row in cursor.fetchall())
            found[name] = {"columns": columns, "rows": rows}
        return found


def _compare(before: dict, after: dict, *, rows_may_change: bool) -> list[str]:
    problems = []
    for name, relation in before.items():
        if name not in after:
            problems.append(f"relation {name} is gone")
        elif after[name]["columns"] != relation["columns"]:
            problems.append(
                f"relation {name}: columns {relation['columns']} became {after[name]['columns']}"
            )
        elif not rows_may_change and after[name]["rows"] != relation["rows"]:
            lost = [r for r in relation["rows"] if r not in after[name]["rows"]]
            new = [r for r in after[name]["rows"] if r not in relation["rows"]]
            # A new relation brings its version row; the others' must stay as they were.
            if name == "version" and not lost:
                continue
            problems.append(f"relation {name}: rows changed (lost {lost[:3]}, new {new[:3]})")
    return problems


def _model(apps, label: str):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _create(model, **values):
    """A row through the historical model, with the fields it has at this step."""
    fields = {f.name for f in model._meta.get_fields()}
    return model.objects.create(**{key: value for key, value in values.items() if key in fields})


def fill(apps, step: int) -> list[str]:
    """Data of every kind the models of this step know; returns what it wrote."""
    written = []
    users, tenants = _model(apps, "auth.User"), _model(apps, "domains.Tenant")
    tenant = None
    if users is not None:
        owner = _create(users, username=f"owner{step}", password="!")
        if tenants is not None:
            tenant = _create(tenants, name=f"Tenant {step}", owner=owner)
            written.append("tenant")
    domains, names = _model(apps, "domains.Domain"), _model(apps, "domains.DomainName")
    if domains is None or names is None:
        return written
    for did, enabled in ((f"s{step}.walk.test", True), (f"off{step}.walk.test", False)):
        domain = _create(domains, did=did, enabled=enabled, tenant=tenant)
        _create(names, domain=domain, name=did, kind="hostname", is_canonical=True)
        _create(names, domain=domain, name=f"sip.{did}", kind="hostname", is_canonical=False)
        _create(names, domain=domain, name=f"10.{step}.0.{int(enabled)}", kind="ipv4")
        attributes = _model(apps, "domains.DomainAttribute")
        if attributes is not None:
            _create(attributes, domain=domain, name="max_contacts", type=0, value="7")
            _create(attributes, domain=domain, name="tier", type=2, value="gold")
        written.append(f"domain {did}")
        subscribers = _model(apps, "subscribers.Subscriber")
        if subscribers is None:
            continue
        user = _create(
            subscribers, domain=domain, username="u", ha1="a" * 32, ha1b="b" * 32, ha1_realm=did
        )
        for from_user in ("u", "boss"):
            _create(apps.get_model("subscribers.ValidFrom"), subscriber=user, from_user=from_user)
        _create(
            apps.get_model("subscribers.UserAlias"), domain=domain, username="100", subscriber=user
        )
    audit = _model(apps, "audit.AuditEntry")
    if audit is not None:
        _create(
            audit,
            actor_name="walk",
            channel="cli",
            action="domain.create",
            did=f"s{step}.walk.test",
        )
    return written


def _state_apps(connection):
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps


def walk(connection, schema: str) -> dict:
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    steps = []
    for index, (migration, _backwards) in enumerate(plan):
        name = f"{migration.app_label}.{migration.name}"
        before = _relations(connection, schema)
        try:
            call_command("migrate", migration.app_label, migration.name, verbosity=0)
        except Exception as exc:  # the report says which step and why
            steps.append({"migration": name, "problems": [f"migrate failed: {exc}"]})
            break
        after = _relations(connection, schema)
        problems = _compare(
            before, after, rows_may_change=bool(getattr(migration, "proxy_rows_change", ""))
        )
        written = fill(_state_apps(connection), index)
        steps.append(
            {
                "migration": name,
                "problems": problems,
                "relations": sorted(after),
                "written": written,
            }
        )
    return {"steps": steps, "relations": _relations(connection, schema)}


def breaking_migration(kind: str):
    from django.db import migrations, models

    if kind == "rebuild":
        # Widening a column the views read: SQLite rebuilds the table, PostgreSQL refuses
        # to change a column a view depends on.
        operation = migrations.AlterField(
            model_name="domain", name="did", field=models.CharField(max_length=80, unique=True)
        )
    else:
        operation = migrations.RunSQL(
            "UPDATE domains_domain SET enabled = FALSE",
            migrations.RunSQL.noop,
        )

    class Migration(migrations.Migration):
        operations = [operation]

    return Migration(f"9999_{kind}", "domains")


def break_step(connection, schema: str, kind: str) -> dict:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    state = executor._create_project_state(with_applied_migrations=True)
    before = _relations(connection, schema)
    try:
        executor.apply_migration(state, breaking_migration(kind), fake=False)
    except Exception as exc:
        return {"problems": [f"migrate failed: {exc}"]}
    return {"problems": _compare(before, _relations(connection, schema), rows_may_change=False)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--break", dest="breaking", choices=["rebuild", "hide"])
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    schema = settings.SERWEB_PROXY_SCHEMA
    if options.breaking:
        report = break_step(connection, schema, options.breaking)
    else:
        report = walk(connection, schema)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
