"""Logging filters named in settings.LOGGING (kept free of model imports: logging is
configured before the apps are loaded)."""

import logging

# The proxy's on-demand lookup (domains/urls.py).
LOOKUP_PATH = "/proxy/lookup"


class DropLookupNotFound(logging.Filter):
    """Drop django.request's "Not Found" warning for the proxy's lookup endpoint.

    A 404 there is an answer ("not ours"), not a broken link: a flood of random names at
    the proxy would otherwise become a flood of log lines. Every other 404, and every
    other status of the lookup (403, 503), is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 404:
            return True
        request = getattr(record, "request", None)
        return getattr(request, "path_info", None) != LOOKUP_PATH
