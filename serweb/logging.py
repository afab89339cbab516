"""Logging filters named in settings.LOGGING (kept free of model imports: logging is
configured before the apps are loaded)."""

import logging

# The proxy's on-demand lookup (domains/urls.py).
LOOKUP_PATH = "/proxy/lookup"


# Answers of the lookup, not faults: "not ours" and "ask again later" (DNS silent or the
# DNS rate limit reached, with Retry-After).
LOOKUP_ANSWERS = {404, 503}


class DropLookupNotFound(logging.Filter):
    """Drop django.request's lines for the proxy lookup's 404 and 503 answers.

    They answer a question ("not ours", "ask again later"); they are not broken links or
    failures, and a flood of random names at the proxy would otherwise become a flood of
    log lines. Every other status, and every other path, is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) not in LOOKUP_ANSWERS:
            return True
        request = getattr(record, "request", None)
        return getattr(request, "path_info", None) != LOOKUP_PATH
