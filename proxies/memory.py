"""Whether a proxy has room for a reload: Kamailio's free shared memory (core.shmmem)
against the size of the domain tables it would load."""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from proxies import transport
from proxies.config import config
from proxies.models import Proxy

# Measured on Debian's Kamailio 5.6 as free shared memory lost per row (the allocator's
# overhead per fragment included): about 360 bytes plus the name and did per domain row,
# about 620 bytes plus did, name and value per attribute row.
DOMAIN_ROW_BYTES = 360
ATTRIBUTE_ROW_BYTES = 620


def tables_size_estimate() -> int:
    """Bytes of shared memory one copy of the domain tables takes, from the relations the
    proxy loads."""
    schema = f'"{settings.SERWEB_PROXY_SCHEMA}".' if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(domain) + LENGTH(COALESCE(did, domain))), 0) "
            f"FROM {schema}domain"
        )
        domains, domain_chars = cursor.fetchone()
        cursor.execute(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(did) + LENGTH(name) + LENGTH(value)), 0) "
            f"FROM {schema}domain_attrs"
        )
        attributes, attribute_chars = cursor.fetchone()
    return (
        domains * DOMAIN_ROW_BYTES
        + domain_chars
        + attributes * ATTRIBUTE_ROW_BYTES
        + attribute_chars
    )


def room_check(proxy: Proxy) -> str | None:
    """Ask the proxy for its free shared memory; a reason not to reload, or None.

    Kamailio keeps two copies of the tables: the one serving, and the one the next reload
    frees and refills. Until its first reload after a start only one exists, so the new
    copy must fit beside everything in use; after that, the copy being refilled gives
    back about what the new one takes. Either way some memory must stay free for calls
    and registrations: a reload that runs out fails and leaves shared memory full, and
    registrations fail until a reload that fits."""
    cfg = config()
    stats = transport.shm_stats(proxy.transport, proxy.address, timeout=cfg.rpc_timeout)
    up_seconds = transport.uptime_seconds(proxy.transport, proxy.address, timeout=cfg.rpc_timeout)
    now = timezone.now()
    Proxy.objects.filter(pk=proxy.pk).update(
        shm_total=stats.total, shm_free=stats.free, shm_checked_at=now
    )
    copy = tables_size_estimate()
    started_at = now - timedelta(seconds=up_seconds)
    # Only reloads serweb saw count; one by someone else just makes this err on the safe side.
    two_copies = proxy.last_reload_at is not None and proxy.last_reload_at > started_at
    need = int(copy * (cfg.shm_safety - 1 if two_copies else cfg.shm_safety))
    reserve = max(cfg.shm_reserve, stats.total // 10)
    if need + reserve <= stats.free:
        return None
    return (
        f"shared memory: the domain tables take about {_mib(copy)} per copy, the reload "
        f"needs {_mib(need)} beside {_mib(reserve)} kept free, and the proxy has "
        f"{_mib(stats.free)} free of {_mib(stats.total)}; start Kamailio with a larger -m "
        "(two copies of the tables, plus what calls and registrations need)"
    )


def _mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"
