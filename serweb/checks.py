"""Start-up warnings about settings that work, but not as production needs."""

import logging

from django.conf import settings
from django.core import checks

logger = logging.getLogger("serweb")

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def cache_not_shared() -> str | None:
    """Why the throttling budgets are not shared by the web workers, if they are not."""
    if settings.DEBUG or settings.CACHES["default"]["BACKEND"] not in PER_PROCESS_CACHES:
        return None
    return (
        "CACHE_URL is not set: each web worker process counts request rates and failed "
        "sign-ins on its own, so N workers allow N times the budget; set CACHE_URL to a "
        "Redis database of serweb's own, e.g. redis://127.0.0.1:6379/1"
    )


@checks.register(checks.Tags.security, deploy=True)
def check_shared_cache(app_configs, **kwargs) -> list[checks.CheckMessage]:
    problem = cache_not_shared()
    return [checks.Warning(problem, id="serweb.W001")] if problem else []


def warn_at_start() -> None:
    """Said once per web process as it starts (serweb/wsgi.py)."""
    problem = cache_not_shared()
    if problem:
        logger.warning(problem)
