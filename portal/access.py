"""Who may open a page: operators their pages, tenants theirs. Anybody else signed in gets
404, as for an object that is not theirs, so a page's existence tells nothing; a visitor
who is not signed in is sent to the sign-in first. (What a page writes is audited as
coming through the web: audit/middleware.py.)

Each guard also sets ``request.scope``: what the page may reach (every domain for an
operator, a tenant its own) and the names of its pages' URLs, so one view serves both
(the subscriber pages: portal/views/subscribers.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from domains.models import Domain, Tenant
from domains.selectors import actor_is_operator, actor_tenant
from subscribers.models import Subscriber

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class Scope:
    """What a page reaches, and the prefix of its URL names ("portal:" for operators'
    pages, "portal:my-" for a tenant's)."""

    tenant: Tenant | None
    prefix: str

    @property
    def is_operator(self) -> bool:
        return self.tenant is None

    def domains(self) -> QuerySet[Domain]:
        if self.tenant is None:
            return Domain.objects.all()
        return Domain.objects.filter(tenant=self.tenant)

    def subscribers(self) -> QuerySet[Subscriber]:
        if self.tenant is None:
            return Subscriber.objects.all()
        return Subscriber.objects.filter(domain__tenant=self.tenant)

    def url(self, name: str, *args) -> str:
        return reverse(self.prefix + name, args=args)


OPERATORS = Scope(tenant=None, prefix="portal:")
TENANT_PREFIX = "portal:my-"


def _refuse_nul(kwargs: dict) -> None:
    """An address part (a did, a name) holding a NUL names nothing, and PostgreSQL cannot
    compare one: not found, on every guarded page alike."""
    if any(isinstance(value, str) and "\x00" in value for value in kwargs.values()):
        raise Http404


def operator_required(view: View) -> View:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not actor_is_operator(request.user):
            raise Http404
        _refuse_nul(kwargs)
        request.scope = OPERATORS
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
        _refuse_nul(kwargs)
        request.tenant = tenant
        request.scope = Scope(tenant=tenant, prefix=TENANT_PREFIX)
        return view(request, *args, **kwargs)

    return guarded
