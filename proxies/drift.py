"""The drift check: find proxies that are behind or hold stale data, and reload them.

Periodic with a broker (proxies.tasks.proxy_drift_check, the beat schedule in settings);
without one, ``proxy status --check`` from cron.
"""

import logging
from dataclasses import dataclass

from django.utils import timezone

from domains.models import Domain
from domains.selectors import names_with_checks
from proxies import index_log, reload
from proxies.config import index_in_htable
from proxies.generation import applied_forget, desired_state
from proxies.models import Proxy
from proxies.probes import changed_domains, probe_names

logger = logging.getLogger("serweb.reload")


@dataclass(frozen=True)
class DriftReport:
    proxy: str
    action: str  # "scheduled", "ok", "repaired", "unverified", "busy"
    detail: str = ""


def drift_check(*, sample: int = 5, reload_now: bool = False) -> list[DriftReport]:
    """Find proxies that are behind or hold stale data, and reload them.

    A proxy behind the desired generation is scheduled (or, with ``reload_now``, reloaded
    here). The others are probed: recently changed domains plus a random sample; a
    wrong answer marks the proxy stale (applied generation 0) and reloads it."""
    reports = []
    if index_in_htable():
        # Now and then rather than after every update: each write is a commit a change
        # may wait for.
        index_log.tombstones_purge()
    generation, _changed_at = desired_state()
    for proxy in Proxy.objects.filter(enabled=True).order_by("name"):
        if proxy.applied_generation < generation:
            reports.append(_catch_up_later_or_now(proxy, reload_now, "behind"))
            continue
        if proxy.reloading_since is not None:
            reports.append(DriftReport(proxy.name, "busy"))
            continue
        if not proxy.sip_address:
            reports.append(DriftReport(proxy.name, "unverified", "no SIP address to probe"))
            continue
        wrong = probe_names(proxy, _drift_sample(proxy, sample), limit=2 * sample)
        if not wrong:
            Proxy.objects.filter(pk=proxy.pk).update(last_verified_at=timezone.now())
            reports.append(DriftReport(proxy.name, "ok"))
            continue
        detail = "stale data: " + "; ".join(wrong)
        logger.warning("proxy %s: %s; reloading", proxy.name, detail)
        applied_forget(proxy.pk, detail)
        report = _catch_up_later_or_now(proxy, reload_now, detail)
        reports.append(DriftReport(proxy.name, "repaired", f"{detail} -> {report.action}"))
    return reports


def _catch_up_later_or_now(proxy: Proxy, reload_now: bool, why: str) -> DriftReport:
    if reload_now:
        outcome = reload.proxy_reload(proxy.pk)
        return DriftReport(proxy.name, outcome.status, outcome.detail or why)
    reload.reload_schedule(proxy.pk)
    return DriftReport(proxy.name, "scheduled", why)


def _drift_sample(proxy: Proxy, size: int) -> list[Domain]:
    recent = changed_domains(proxy.last_verified_at, proxy.applied_changed_at)[:size]
    ids = list(Domain.objects.values_list("pk", flat=True).order_by("?")[:size])
    others = list(Domain.objects.prefetch_related(names_with_checks()).filter(pk__in=ids))
    return recent + [d for d in others if d not in recent]
