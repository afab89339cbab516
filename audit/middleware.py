"""Every request is one run of the audit trail: what it writes shares one group id, which
the answer carries in ``X-Request-Id`` (the audit log's ``?group=`` finds its entries)."""

from audit.services import audit_channel

REQUEST_ID_HEADER = "X-Request-Id"


class AuditRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Pages write through the web channel; the API's views say "api" for their part.
        with audit_channel("web") as group:
            request.audit_group = group
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = str(group)
        return response
