from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults

from domains.models import Domain, Proxy
from subscribers.models import Subscriber


@staff_member_required
def home(request):
    return render(
        request,
        "serweb/home.html",
        {
            "domains_total": Domain.objects.count(),
            "domains_served": Domain.objects.served().count(),
            "subscribers_total": Subscriber.objects.count(),
            "proxies": Proxy.objects.all(),
        },
    )


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": "Server error.", "code": "error"}, status=500)
    return defaults.server_error(request)
