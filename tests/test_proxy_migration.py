"""Proxy and ReloadState moved from the domains app to proxies without touching their data:
same tables, same rows, same content types, and the proxy-facing relations unchanged."""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from domains.services import domain_create
from proxies.generation import desired_generation
from proxies.models import Proxy, ReloadState
from tests.helpers import proxy_rows

BEFORE_THE_MOVE = [("proxies", None)]  # unapplies domains 0008 too, which depends on it
LAST_BEFORE_THE_MOVE = ("domains", "0007_housekeeping_one_running_run_per_slot")


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader sees what was applied


def tables() -> set[str]:
    return set(connection.introspection.table_names())


def test_the_move_keeps_the_tables_their_rows_and_what_the_proxy_reads(transactional_db):
    domain_create(actor=None, name="kept.example.org", aliases=["sip.kept.example.org"])
    served_before = proxy_rows("domain", "domain, did")
    proxy_type = ContentType.objects.get(app_label="proxies", model="proxy")
    can_change = Permission.objects.get(content_type=proxy_type, codename="change_proxy")

    executor = migrate(BEFORE_THE_MOVE)
    assert LAST_BEFORE_THE_MOVE in executor.loader.applied_migrations
    assert ("domains", "0008_proxy_and_reload_state_to_proxies") not in (
        executor.loader.applied_migrations
    )
    old = executor.loader.project_state([LAST_BEFORE_THE_MOVE]).apps
    OldProxy = old.get_model("domains", "Proxy")
    OldProxy.objects.create(
        name="edge1", transport="udp", address="127.0.0.1:5090", applied_generation=1
    )
    old.get_model("domains", "ReloadState").objects.filter(pk=1).update(desired_generation=7)
    # The content types went back with the models, permissions attached.
    assert ContentType.objects.get(pk=proxy_type.pk).app_label == "domains"

    migrate(executor.loader.graph.leaf_nodes())

    proxy = Proxy.objects.get(name="edge1")
    assert (proxy.transport, proxy.address, proxy.applied_generation) == (
        "udp",
        "127.0.0.1:5090",
        1,
    )
    assert desired_generation() == 7 and ReloadState.objects.count() == 1
    assert {"domains_proxy", "domains_reloadstate"} <= tables()
    assert not {"proxies_proxy", "proxies_reloadstate"} & tables()
    assert ContentType.objects.get(pk=proxy_type.pk).app_label == "proxies"
    assert Permission.objects.get(pk=can_change.pk).content_type_id == proxy_type.pk
    assert proxy_rows("domain", "domain, did") == served_before
    # A new row takes the next id of the same sequence.
    assert Proxy.objects.create(name="edge2", transport="udp", address="127.0.0.1:5091").pk > (
        proxy.pk
    )
