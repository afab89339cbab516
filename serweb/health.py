"""Is this serweb well: its database, its broker, its cache and each proxy, asked at once and
answered within a deadline (a load balancer or a monitor asks every few seconds)."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections

from proxies import transport
from proxies.models import Proxy

# Answers of a web process must not wait on a slow part: each check gets what is left
# of this, then counts as failed.
DEADLINE_SECONDS = 0.9


@dataclass
class Check:
    ok: bool
    detail: str = ""
    ms: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "ms": round(self.ms, 1)}


@dataclass
class Health:
    checks: dict[str, Check]
    proxies: dict[str, Check] = field(default_factory=dict)

    @property
    def serving(self) -> bool:
        """The web process can do its work: the proxies' own state does not decide it (a
        proxy down is an alert of its own, not a reason to take serweb out of service)."""
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        if not self.serving:
            status = "failing"
        elif all(check.ok for check in self.proxies.values()):
            status = "ok"
        else:
            status = "degraded"
        return {
            "status": status,
            "checks": {name: check.as_json() for name, check in self.checks.items()},
            "proxies": {name: check.as_json() for name, check in self.proxies.items()},
        }


def _database(found: list[Proxy]) -> Callable[[], str]:
    def ask() -> str:
        # The proxies to ask come with the answer: a database that hangs holds up no thread
        # but its own.
        found[:] = list(Proxy.objects.filter(enabled=True).order_by("name"))
        return "answers"

    return ask


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "none configured: tasks run in the web process"
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=DEADLINE_SECONDS) as broker:
        broker.ensure_connection(max_retries=0)
    return "answers"


def _cache() -> str:
    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        return "per process"
    key = "serweb:health"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("a value written could not be read back")
    return "answers"


def _proxy(proxy: Proxy, timeout: float) -> Callable[[], str]:
    def ask() -> str:
        uptime = transport.uptime_seconds(proxy.transport, proxy.address, timeout=timeout)
        return f"up {int(uptime)} s"

    return ask


def _timed(work: Callable[[], str]) -> Check:
    started = time.monotonic()
    try:
        detail, ok = work(), True
    except Exception as exc:  # a check's failure is its answer
        detail, ok = f"{type(exc).__name__}: {exc}"[:200], False
    finally:
        connections.close_all()  # this thread's own connections
    return Check(ok=ok, detail=detail, ms=(time.monotonic() - started) * 1000)


def health_check(*, deadline: float = DEADLINE_SECONDS) -> Health:
    end = time.monotonic() + deadline
    proxies: list[Proxy] = []  # filled by the database's check
    pool = ThreadPoolExecutor(max_workers=32)
    futures = {
        "database": pool.submit(_timed, _database(proxies)),
        "broker": pool.submit(_timed, _broker),
        "cache": pool.submit(_timed, _cache),
    }
    wait([futures["database"]], timeout=deadline)
    proxies = list(proxies) if futures["database"].done() else []
    left = max(0.05, end - time.monotonic())
    futures |= {f"proxy:{p.name}": pool.submit(_timed, _proxy(p, left)) for p in proxies}
    wait(futures.values(), timeout=max(0.0, end - time.monotonic()))
    # What has not answered is left to finish on its own; it is not waited for.
    pool.shutdown(wait=False, cancel_futures=True)
    late = Check(ok=False, detail=f"no answer within {deadline:g} s", ms=deadline * 1000)
    results = {name: future.result() if future.done() else late for name, future in futures.items()}
    return Health(
        checks={name: results[name] for name in ("database", "broker", "cache")},
        proxies={proxy.name: results[f"proxy:{proxy.name}"] for proxy in proxies},
    )
