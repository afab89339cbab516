"""The subscriber pages: the list across domains, adding one, a subscriber's page
(password, enabled, valid From identities, user aliases, registrations), deleting.

The same pages serve operators (every domain, under /subscribers/) and tenants (their own
domains, under /my/subscribers/): portal/urls.py guards each with operator_required or
tenant_required, and the guard's ``request.scope`` says what a page reaches; another's
subscriber or domain is one that does not exist.

Every write is one service call; subscribers, valid From rows and aliases are read by the
proxies per request, so a change is live at its commit wherever the domain is served."""

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST

from domains.models import Domain
from domains.selectors import domain_refs_by_names
from portal.actions import perform
from portal.forms.subscribers import (
    EnabledForm,
    PasswordForm,
    SubscriberAddForm,
    UserAliasForm,
    ValidFromForm,
)
from proxies.registrations import registrations_of, registrations_timeout
from proxies.status import domain_pending_proxies
from subscribers import selectors, services
from subscribers.filters import SubscriberSearch
from subscribers.models import Subscriber

PAGES = "portal/subscribers/"


def _subscriber_or_404(request, pk: int) -> Subscriber:
    try:
        return selectors.subscriber_get(pk, among=request.scope.subscribers())
    except Subscriber.DoesNotExist:
        raise Http404 from None


def _domain_or_404(request, pk: int) -> Domain:
    return get_object_or_404(request.scope.domains(), pk=pk)


def _live(domain: Domain) -> str:
    if not domain.enabled:
        return f"not live: domain {domain.did} is switched off"
    if not domain.is_served:
        return f"not live: domain {domain.did} is {domain.get_state_display().lower()}, not served"
    pending = domain_pending_proxies(domain)
    if pending:
        return f"live once proxy {', '.join(pending)} serves {domain.did}"
    return "live at once: the proxies read it per request"


def _after_password(request, subscriber: Subscriber, password: str, *, generated: bool):
    """A generated password is shown once, on this very answer (kept nowhere to show it
    again); after a typed one, the subscriber's page."""
    if generated:
        return _page(request, subscriber, new_password=password)
    return redirect(request.scope.url("subscriber", subscriber.pk))


def _page(request, subscriber: Subscriber, *, new_password: str = "", **forms):
    context = {
        "detail": selectors.subscriber_detail(subscriber),
        "password_form": PasswordForm(),
        "valid_from_form": ValidFromForm(),
        "alias_form": UserAliasForm(domains=request.scope.domains()),
        "new_password": new_password,
        **forms,
    }
    response = render(request, PAGES + "detail.html", context)
    patch_cache_control(response, no_store=True, private=True)
    return response


def subscriber_list(request):
    search = SubscriberSearch(
        request.GET, queryset=request.scope.subscribers(), domains=request.scope.domains()
    )
    page, domain_named = None, None
    if search.is_valid():
        page = selectors.subscriber_page(
            search.qs, after=request.GET.get("after"), before=request.GET.get("before")
        )
        query = search.form.cleaned_data["q"]
        if not page.subscribers and query is not None and query.domain_id is None:
            # Nobody's user name starts with it: perhaps it names a domain (of this scope).
            domain_named = domain_refs_by_names([query.username])[query.username]
            if domain_named and not request.scope.domains().filter(pk=domain_named[0]).exists():
                domain_named = None
    context = {
        "search": search,
        "page": page,
        "domain": request.GET.get("domain", ""),
        "domain_named": domain_named and domain_named[1],
    }
    return render(request, PAGES + "list.html", context)


def subscriber_add(request):
    form = SubscriberAddForm(
        request.POST if request.method == "POST" else None,
        initial={"domain": request.GET.get("domain", ""), "enabled": True},
        domains=request.scope.domains(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        domain = _domain_or_404(request, data["domain"])
        password = data["password"] or services.password_generate()
        _ok, subscriber = perform(
            request,
            form,
            services.subscriber_create,
            domain=domain,
            **{key: data[key] for key in ("username", "email", "enabled")},
            password=password,
        )
        if not form.errors:
            messages.success(request, f"Subscriber {subscriber} added; {_live(domain)}.")
            return _after_password(request, subscriber, password, generated=not data["password"])
    return render(request, PAGES + "add.html", {"form": form})


def subscriber_detail(request, pk: int):
    return _page(request, _subscriber_or_404(request, pk))


@require_POST
def subscriber_password(request, pk: int):
    subscriber = _subscriber_or_404(request, pk)
    form = PasswordForm(request.POST)
    if form.is_valid():
        password = form.cleaned_data["password"] or services.password_generate()
        perform(
            request,
            form,
            services.subscriber_set_password,
            subscriber=subscriber,
            password=password,
        )
        if not form.errors:
            messages.success(
                request, f"New password of {subscriber} set; {_live(subscriber.domain)}."
            )
            generated = not form.cleaned_data["password"]
            return _after_password(request, subscriber, password, generated=generated)
    return _page(request, subscriber, password_form=form)


@require_POST
def subscriber_enabled(request, pk: int):
    subscriber = _subscriber_or_404(request, pk)
    form = EnabledForm(request.POST)
    if form.is_valid():
        enabled = form.cleaned_data["enabled"]
        perform(request, form, services.subscriber_update, subscriber=subscriber, enabled=enabled)
    if form.errors:
        messages.error(request, f"{subscriber} was not changed: " + _errors(form))
    else:
        done = "enabled" if enabled else "disabled"
        messages.success(request, f"Subscriber {subscriber} {done}; {_live(subscriber.domain)}.")
    return redirect(request.scope.url("subscriber", pk))


def _errors(form) -> str:
    return " ".join(message for messages_ in form.errors.values() for message in messages_)


@require_POST
def valid_from_add(request, pk: int):
    subscriber = _subscriber_or_404(request, pk)
    form = ValidFromForm(request.POST)
    if form.is_valid():
        from_user = form.cleaned_data["from_user"]
        perform(request, form, services.valid_from_add, subscriber=subscriber, from_user=from_user)
        if not form.errors:
            messages.success(
                request,
                f"{subscriber} may now present From user {from_user.strip()}; "
                f"{_live(subscriber.domain)}.",
            )
            return redirect(request.scope.url("subscriber", pk))
    return _page(request, subscriber, valid_from_form=form)


@require_POST
def valid_from_remove(request, pk: int):
    subscriber = _subscriber_or_404(request, pk)
    form = ValidFromForm(request.POST)
    if form.is_valid():
        from_user = form.cleaned_data["from_user"]
        perform(
            request, form, services.valid_from_remove, subscriber=subscriber, from_user=from_user
        )
    if form.errors:
        messages.error(request, _errors(form))
    else:
        messages.success(
            request,
            f"{subscriber} may no longer present From user {from_user.strip()}; "
            f"{_live(subscriber.domain)}.",
        )
    return redirect(request.scope.url("subscriber", pk))


@require_POST
def alias_add(request, pk: int):
    subscriber = _subscriber_or_404(request, pk)
    form = UserAliasForm(request.POST, domains=request.scope.domains())
    if form.is_valid():
        chosen = form.cleaned_data["domain"]
        domain = subscriber.domain if chosen is None else _domain_or_404(request, chosen)
        _ok, alias = perform(
            request,
            form,
            services.user_alias_add,
            domain=domain,
            username=form.cleaned_data["username"],
            subscriber=subscriber,
        )
        if not form.errors:
            messages.success(request, f"{alias} now leads to {subscriber}; {_live(domain)}.")
            return redirect(request.scope.url("subscriber", pk))
    return _page(request, subscriber, alias_form=form)


@require_POST
def alias_remove(request, pk: int, alias_pk: int):
    subscriber = _subscriber_or_404(request, pk)
    alias = get_object_or_404(subscriber.aliases.select_related("domain"), pk=alias_pk)
    try:
        services.user_alias_remove(actor=request.user, alias=alias)
    except ObjectDoesNotExist:
        raise Http404 from None
    messages.success(request, f"{alias} no longer leads to {subscriber}; {_live(alias.domain)}.")
    return redirect(request.scope.url("subscriber", pk))


def subscriber_delete(request, pk: int):
    subscriber = _subscriber_or_404(request, pk)
    if request.method != "POST":
        context = {"detail": selectors.subscriber_detail(subscriber)}
        return render(request, PAGES + "delete.html", context)
    try:
        services.subscriber_delete(actor=request.user, subscriber=subscriber)
    except ObjectDoesNotExist:
        raise Http404 from None
    messages.success(
        request, f"Subscriber {subscriber} deleted, with its valid From identities and aliases."
    )
    return redirect(request.scope.url("subscribers") + f"?domain={subscriber.domain.did}")


def subscriber_registrations(request, pk: int):
    """The proxies' answer; the subscriber's page loads it after itself (htmx), so a proxy
    that is down delays this panel only. Without JS, a page of its own."""
    subscriber = _subscriber_or_404(request, pk)
    aor = selectors.subscriber_aor(subscriber)
    proxies = registrations_of(aor)
    context = {
        "subscriber": subscriber,
        "aor": aor,
        "proxies": proxies,
        "any_answered": any(proxy.answered for proxy in proxies),
        "timeout": registrations_timeout(),
    }
    template = "_registrations.html" if request.htmx else "registrations.html"
    return render(request, PAGES + template, context)
