"""Who may open a page: operators their pages, tenants theirs. Anybody else signed in gets
404, as for an object that is not theirs, so a page's existence tells nothing; a visitor
who is not signed in is sent to the sign-in first. (What a page writes is audited as
coming through the web: audit/middleware.py.)"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from domains.selectors import actor_is_operator, actor_tenant

View = Callable[..., HttpResponse]


def operator_required(view: View) -> View:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not actor_is_operator(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


def tenant_required(view: View) -> View:
    """The tenant whose owner is signed in, as ``request.tenant``; one that signed up and
    has not confirmed its e-mail address yet is asked to, and sees nothing else."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        tenant = actor_tenant(request.user)
        if tenant is None:
            raise Http404
        if tenant.confirmed_at is None:
            return render(request, "portal/tenant/confirm_email.html", {"tenant": tenant})
        request.tenant = tenant
        return view(request, *args, **kwargs)

    return guarded
