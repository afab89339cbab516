from audit.services import audit_channel


class AuditChannelMiddleware:
    """Writes made while answering a web request are audited as made through the web (the
    API's views say "api" for their own)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_channel("web"):
            return self.get_response(request)
