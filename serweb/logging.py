"""Logging filters named in settings.LOGGING (kept free of model imports: logging is
configured before the apps are loaded)."""

import contextvars
import json
import logging
import time

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


# --- Structured lines ---------------------------------------------------------------------

# Who a web request is made by, for its log lines: set by RequestLogMiddleware after
# authentication (the user object; its name is read when a line is written).
_request_user: contextvars.ContextVar = contextvars.ContextVar("log_user", default=None)
# In a task: the id of the request (or command run) that queued it, from the message's
# headers (serweb/celery.py).
_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_origin", default=None)

REQUEST_ID_HEADER = "serweb_request_id"


def current_request_id() -> str | None:
    """The id of the run in progress (the audit group of a request, command, job or task),
    or of the request that queued this task."""
    from audit.services import audit_group  # after the apps are loaded, when a line is written

    group = audit_group()
    return str(group) if group is not None else _origin.get()


class RequestContext(logging.Filter):
    """Adds to every record the request id and who acts (a signed-in user, a command's
    login, or nobody)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs an error answer after the middleware has ended, naming the request.
        request = getattr(record, "request", None)
        group = getattr(request, "audit_group", None)
        try:
            record.request_id = str(group) if group is not None else current_request_id()
        except Exception:  # before the apps are ready: no request yet
            record.request_id = None
        record.origin = _origin.get()
        user = getattr(request, "user", None) or _request_user.get()
        record.user = user.get_username() if getattr(user, "is_authenticated", False) else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, user, and the
    traceback of an exception. The message is what the code logged: no code here adds a
    request's body, headers or cookies, so no secret is written that the code did not log."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user": getattr(record, "user", None),
        }
        if getattr(record, "origin", None) and record.origin != line["request_id"]:
            line["queued_by"] = record.origin
        if getattr(record, "status_code", None):
            line["status"] = record.status_code
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonFormatter.converter = time.gmtime


class RequestLogMiddleware:
    """After authentication: the signed-in user, for the request's log lines."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_user.set(getattr(request, "user", None))
        try:
            return self.get_response(request)
        finally:
            _request_user.reset(token)


def queued_by(request_id: str | None):
    """Within a task: the request id its message carried."""
    return _origin.set(request_id)
