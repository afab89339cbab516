from django.shortcuts import render

from portal import selectors
from portal.access import operator_required
from proxies.status import proxy_status_list


@operator_required
def dashboard(request):
    # The proxies' panel refreshes itself (htmx) from the same address.
    if request.htmx and request.GET.get("part") == "proxies":
        proxies = proxy_status_list(pending_limit=0)
        return render(request, "portal/operator/_proxies.html", {"proxies": proxies})
    return render(request, "portal/operator/dashboard.html", {"board": selectors.dashboard()})
