"""Prometheus metrics.

Two kinds. What the database knows (domains by state, DNS verdicts, claims waiting, each
proxy's generations behind, reloads and failures, the broker's queue depth) is read when
the metrics are scraped, so every web process answers the same. What happens in a process
(verifications and their latency, lookups and where their answer came from) is counted
where it happens, with prometheus-client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR
is set (several gunicorn workers and the Celery workers of one host add up; the directory
is emptied when the service starts, see deploy/)."""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, F
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from domains.models import Domain, DomainCheck, DomainClaim, NameCheck
from proxies.generation import desired_generation
from proxies.models import Proxy

VERIFICATIONS = Counter(
    "serweb_verifications", "DNS verifications of domains, by verdict", ["verdict"]
)
VERIFICATION_SECONDS = Histogram(
    "serweb_verification_seconds",
    "How long one domain's DNS verification took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
LOOKUPS = Counter(
    "serweb_lookups",
    "The proxy's on-demand lookups, by answer and where it came from",
    ["answer", "source"],
)


class DatabaseCollector(Collector):
    """What the database says, read at each scrape (a few indexed aggregate queries)."""

    def collect(self) -> Iterator:
        domains = GaugeMetricFamily(
            "serweb_domains", "Domains by state and switch", labels=["state", "enabled"]
        )
        for row in Domain.objects.values("state", "enabled").annotate(n=Count("pk")):
            domains.add_metric([row["state"], str(row["enabled"]).lower()], row["n"])
        yield domains

        verdicts = GaugeMetricFamily(
            "serweb_dns_verdicts",
            "Domains by the verdict of their latest DNS check",
            labels=["verdict"],
        )
        for row in DomainCheck.objects.values("verdict").annotate(n=Count("pk")):
            verdicts.add_metric([row["verdict"] or "none"], row["n"])
        yield verdicts

        names = GaugeMetricFamily(
            "serweb_dns_names",
            "Names DNS housekeeping has checked, by the state of their own lifecycle "
            "(disabled and removed ones are not served) and kind (an IP literal is disabled "
            "while it is not one of the proxy addresses)",
            labels=["state", "kind"],
        )
        for row in NameCheck.objects.values("state", "name__kind").annotate(n=Count("pk")):
            names.add_metric([row["state"], row["name__kind"]], row["n"])
        yield names

        yield GaugeMetricFamily(
            "serweb_claims_waiting",
            "Tenants' claims whose TXT record has not been seen yet",
            value=DomainClaim.objects.filter(verified_at__isnull=True).count(),
        )

        desired = desired_generation()
        behind = GaugeMetricFamily(
            "serweb_proxy_generations_behind",
            "Generations of the data a proxy has not applied yet",
            labels=["proxy"],
        )
        reloads = CounterMetricFamily(
            "serweb_proxy_reloads", "Reloads a proxy applied", labels=["proxy"]
        )
        failures = GaugeMetricFamily(
            "serweb_proxy_failures", "Reloads failed in a row", labels=["proxy"]
        )
        latency = GaugeMetricFamily(
            "serweb_proxy_last_reload_seconds", "How long the last reload took", labels=["proxy"]
        )
        proxies = Proxy.objects.filter(enabled=True).values(
            "name",
            "failures",
            "last_reload_seconds",
            count=F("reload_count"),
            applied=F("applied_generation"),
        )
        for proxy in proxies:
            behind.add_metric([proxy["name"]], max(0, desired - proxy["applied"]))
            reloads.add_metric([proxy["name"]], proxy["count"])
            failures.add_metric([proxy["name"]], proxy["failures"])
            if proxy["last_reload_seconds"] is not None:
                latency.add_metric([proxy["name"]], proxy["last_reload_seconds"])
        yield from (behind, reloads, failures, latency)

        depth = queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "serweb_task_queue_depth", "Tasks waiting in the broker's queue", value=depth
            )


def queue_depth() -> int | None:
    """Messages waiting in the default queue, or None without a broker (or if it does not
    answer: the metric is then missing, which an alert on absence notices)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=0.5) as broker:
            queue = broker.SimpleQueue("celery")
            try:
                return queue.qsize()
            finally:
                queue.close()
    except Exception:  # the health check names what is wrong with the broker
        return None


class _ThisProcess(Collector):
    """This process's own counters, when each process is scraped alone."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


def metrics_page() -> tuple[bytes, str]:
    """The scrape's body and content type."""
    registry = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
