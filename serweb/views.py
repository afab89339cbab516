from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

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
