from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from domains.selectors import actor_is_operator, actor_tenant


@login_required
def home(request):
    """Operators land on the dashboard, tenants on their own pages."""
    if actor_is_operator(request.user):
        return redirect("portal:dashboard")
    if actor_tenant(request.user) is not None:
        return redirect("portal:my-domains")
    return render(request, "portal/no_access.html", status=403)


def not_here(request):
    """A page a library offers that serweb does not."""
    raise Http404
