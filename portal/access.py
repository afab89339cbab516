"""Who may open a page: operators their pages, tenants theirs. Anybody else signed in gets
404, as for an object that is not theirs, so a page's existence tells nothing; a visitor
who is not signed in is sent to the sign-in first. What a page writes is audited as
coming through the web."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from audit.services import audit_channel
from domains.selectors import actor_is_operator, actor_tenant

View = Callable[..., HttpResponse]


def operator_required(view: View) -> View:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not actor_is_operator(request.user):
            raise Http404
        with audit_channel("web"):
            return view(request, *args, **kwargs)

    return guarded


def tenant_required(view: View) -> View:
    """The tenant whose owner is signed in, as ``request.tenant``."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        tenant = actor_tenant(request.user)
        if tenant is None:
            raise Http404
        request.tenant = tenant
        with audit_channel("web"):
            return view(request, *args, **kwargs)

    return guarded
