"""Whether a proxy has room for a reload: Kamailio's free shared memory (core.shmmem)
against the size of the domain tables it would load."""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from proxies import transport
from proxies.config import config, index_in_htable
from proxies.models import Proxy

# Measured on Debian's Kamailio 5.6 as free shared memory lost per row (the allocator's
# overhead per fragment included): about 360 bytes plus the name and did per domain row,
# about 620 bytes plus did, name and value per attribute row.
DOMAIN_ROW_BYTES = 360
ATTRIBUTE_ROW_BYTES = 620
# Module htable, likewise: 224 bytes for an item of a 23-character key and a 19-character
# value, 216 for a 29-character key and an integer; about this plus key and value.
HTABLE_ITEM_BYTES = 190
# Past this many items per slot on average, a hash table's lookups walk long lists.
HTABLE_ITEMS_PER_SLOT = 2


def _relation(name: str) -> str:
    schema = f'"{settings.SERWEB_PROXY_SCHEMA}".' if connection.vendor == "postgresql" else ""
    return f"{schema}{name}"


def _rows(sql: str) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows, chars = cursor.fetchone()
    return rows, chars


def names_count() -> tuple[int, int]:
    """The served names, and their characters with their dids'."""
    return _rows(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(domain) + LENGTH(COALESCE(did, domain))), 0) "
        f"FROM {_relation('domain')}"
    )


def tables_size_estimate() -> int:
    """Bytes of shared memory one copy of the domain tables takes, from the relations the
    proxy loads: the domain module's tables, or in the htable index mode both hash
    tables (a name per item, an attribute per item)."""
    domains, domain_chars = names_count()
    attributes, attribute_chars = _rows(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(did) + LENGTH(name) + LENGTH(value)), 0) "
        f"FROM {_relation('domain_attrs')}"
    )
    if index_in_htable():
        return (domains + attributes) * HTABLE_ITEM_BYTES + domain_chars + attribute_chars
    return (
        domains * DOMAIN_ROW_BYTES
        + domain_chars
        + attributes * ATTRIBUTE_ROW_BYTES
        + attribute_chars
    )


def _reserve(stats: transport.ShmStats) -> int:
    return max(config().shm_reserve, stats.total // 10)


def shm_checked(proxy: Proxy, stats: transport.ShmStats, **more) -> None:
    """Record the proxy's shared memory as it reported it."""
    Proxy.objects.filter(pk=proxy.pk).update(
        shm_total=stats.total, shm_free=stats.free, shm_checked_at=timezone.now(), **more
    )


def room_check(proxy: Proxy) -> str | None:
    """Ask the proxy for its free shared memory; a reason not to reload, or None.

    Kamailio's domain module keeps two copies of the tables: the one serving, and the one
    the next reload frees and refills. Until its first reload after a start only one
    exists, so the new copy must fit beside everything in use; after that, the copy being
    refilled gives back about what the new one takes. htable.reload builds the new items
    beside the old ones and frees the old after the swap, so there the whole copy must
    fit every time. Either way some memory must stay free for calls and registrations: a
    reload that runs out fails and leaves shared memory full, and registrations fail
    until a reload that fits."""
    cfg = config()
    stats = transport.shm_stats(proxy.transport, proxy.address, timeout=cfg.rpc_timeout)
    up_seconds = transport.uptime_seconds(proxy.transport, proxy.address, timeout=cfg.rpc_timeout)
    now = timezone.now()
    started_at = now - timedelta(seconds=up_seconds)
    shm_checked(proxy, stats, proxy_started_at=started_at)
    copy = tables_size_estimate()
    # Only reloads serweb saw count; one by someone else just makes this err on the safe side.
    two_copies = (
        not index_in_htable()
        and proxy.last_reload_at is not None
        and proxy.last_reload_at > started_at
    )
    need = int(copy * (cfg.shm_safety - 1 if two_copies else cfg.shm_safety))
    reserve = _reserve(stats)
    if need + reserve <= stats.free:
        return None
    return (
        f"shared memory: the domain tables take about {_mib(copy)} per copy, the reload "
        f"needs {_mib(need)} beside {_mib(reserve)} kept free, and the proxy has "
        f"{_mib(stats.free)} free of {_mib(stats.total)}; start Kamailio with a larger -m "
        "(two copies of the tables, plus what calls and registrations need)"
    )


def room_for_items(
    proxy: Proxy, items: Iterable[tuple[str, str]]
) -> tuple[str | None, transport.ShmStats]:
    """Whether the proxy has room for these new hash table items (key, value): a reason
    not to send them, or None; and the shared memory it reported, for the caller to
    record with what else it writes."""
    cfg = config()
    stats = transport.shm_stats(proxy.transport, proxy.address, timeout=cfg.rpc_timeout)
    need = int(
        sum(HTABLE_ITEM_BYTES + len(key) + len(value) for key, value in items) * cfg.shm_safety
    )
    reserve = _reserve(stats)
    if need + reserve <= stats.free:
        return None, stats
    return (
        f"shared memory: the changed items need about {_mib(need)} beside {_mib(reserve)} "
        f"kept free, and the proxy has {_mib(stats.free)} free of {_mib(stats.total)}; "
        "start Kamailio with a larger -m"
    ), stats


def slots_warning(proxy: Proxy, table: str, items: int) -> str | None:
    """A warning when the proxy's hash table ``table`` has too few slots for ``items``
    (its size parameter is log2 of the slots), or None."""
    slots = transport.htable_slots(
        proxy.transport, proxy.address, table, timeout=config().rpc_timeout
    )
    if not slots or items <= HTABLE_ITEMS_PER_SLOT * slots:
        return None
    size = max(2, (items - 1).bit_length())
    return (
        f"hash table {table} holds {items:,} items in {slots:,} slots ({items / slots:.1f} "
        f"a slot): give it size={size} in the proxy's configuration"
    )


def _mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"
