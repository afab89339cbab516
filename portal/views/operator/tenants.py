"""The tenants: a searchable list, creating, editing, their owners' passwords, disabling
and enabling, what each holds, and moving a domain from one tenant to another."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from domains.models import Domain, DomainState, Tenant
from domains.names import name_for_people
from domains.selectors import (
    DomainNotFound,
    claims_waiting,
    domain_get_by_name,
    tenant_domain_states,
    tenants_with_usage,
)
from domains.services import (
    domain_update,
    tenant_create,
    tenant_set_active,
    tenant_set_password,
    tenant_update,
)
from domains.signup import tenant_invite
from portal.access import operator_required
from portal.actions import perform
from portal.forms import posted
from portal.forms.tenants import (
    DomainTransferForm,
    TenantActiveForm,
    TenantCreateForm,
    TenantEditForm,
    TenantPasswordForm,
    TenantSearchForm,
)
from portal.paging import numbered_page
from proxies.status import domains_pending_proxies, pending_note
from serweb.errors import add_to_form

PAGE_SIZE = 50


def _tenant(pk: int) -> Tenant:
    return get_object_or_404(Tenant.objects.select_related("owner"), pk=pk)


@operator_required
def tenant_list(request):
    search = TenantSearchForm(request.GET)
    text = search.cleaned_data["q"] if search.is_valid() else ""
    page = numbered_page(tenants_with_usage(search=text), request, size=PAGE_SIZE)
    context = {"search": search, "q": text, "page": page}
    return render(request, "portal/operator/tenant_list.html", context)


@operator_required
def tenant_add(request):
    form = TenantCreateForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tenant = tenant_create(
                actor=request.user,
                name=data["name"],
                owner_username=data["owner"],
                email=data["email"],
                password=data["password"] or None,
            )
        except ValidationError as exc:
            add_to_form(form, exc, fields={"owner_username": "owner"})
        else:
            if data["password"]:
                how = "with the password given"
            elif data["invite"]:
                how = "once it has chosen a password"
            else:
                how = "once you set a password"
            messages.success(
                request, f"Created tenant {tenant.name}: {tenant.owner.username} signs in {how}."
            )
            if data["invite"]:
                _invite(request, tenant)
            return redirect("portal:tenant", pk=tenant.pk)
    return render(request, "portal/operator/tenant_form.html", {"form": form})


@operator_required
def tenant_detail(request, pk: int):
    tenant = _tenant(pk)
    domains = Domain.objects.filter(tenant=tenant).prefetch_related("names").order_by("did")
    claims = claims_waiting().filter(tenant=tenant).defer("token").order_by("created_at")
    context = {
        "tenant": tenant,
        "states": [
            (DomainState(state).label, state, *counts)
            for state, counts in tenant_domain_states(tenant).items()
        ],
        "page": numbered_page(domains, request, size=PAGE_SIZE),
        "claims": list(claims[:PAGE_SIZE]),
        "claims_total": claims.count(),
    }
    return render(request, "portal/operator/tenant_detail.html", context)


@operator_required
def tenant_edit(request, pk: int):
    tenant = _tenant(pk)
    initial = {
        "name": tenant.name,
        "email": tenant.owner.email,
        "domain_quota": tenant.domain_quota,
        "pending_claim_limit": tenant.pending_claim_limit,
    }
    form = TenantEditForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        saved, updated = perform(request, form, tenant_update, tenant=tenant, **form.cleaned_data)
        if saved:
            messages.success(request, f"Saved tenant {updated.name}.")
            return redirect("portal:tenant", pk=updated.pk)
    return render(request, "portal/operator/tenant_form.html", {"form": form, "tenant": tenant})


@operator_required
def tenant_password(request, pk: int):
    tenant = _tenant(pk)
    form = TenantPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        done, _ = perform(request, form, tenant_set_password, tenant=tenant, **form.cleaned_data)
        if done:
            messages.success(request, f"Set a new password for {tenant.owner.username}.")
            return redirect("portal:tenant", pk=tenant.pk)
    return render(request, "portal/operator/tenant_password.html", {"form": form, "tenant": tenant})


def _invite(request, tenant: Tenant) -> None:
    try:
        sent_to = tenant_invite(
            actor=request.user, tenant=tenant, base_url=request.build_absolute_uri("/")
        )
    except ValidationError as exc:
        messages.error(request, f"No invitation was sent: {' '.join(exc.messages)}")
    else:
        messages.success(
            request,
            f"Invited {tenant.owner.username}: a link to choose a password went to {sent_to}.",
        )


@operator_required
@require_POST
def tenant_invite_again(request, pk: int):
    _invite(request, _tenant(pk))
    return redirect("portal:tenant", pk=pk)


@operator_required
def tenant_disable(request, pk: int):
    return _set_active(request, _tenant(pk), active=False)


@operator_required
def tenant_enable(request, pk: int):
    return _set_active(request, _tenant(pk), active=True)


def _set_active(request, tenant: Tenant, *, active: bool):
    form = TenantActiveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with_domains = form.cleaned_data["domains"]
        changed = tenant_set_active(
            actor=request.user, tenant=tenant, active=active, domains=with_domains
        )
        messages.success(request, _active_message(tenant, active, with_domains, changed))
        return redirect("portal:tenant", pk=tenant.pk)
    switchable = tenant.domains.filter(enabled=not active).count()
    context = {"tenant": tenant, "form": form, "active": active, "switchable": switchable}
    return render(request, "portal/operator/tenant_active.html", context)


def _active_message(tenant: Tenant, active: bool, with_domains: bool, changed) -> str:
    owner = tenant.owner.username
    if active:
        text = f"Enabled tenant {tenant.name}: {owner} may sign in and use its API tokens again."
    else:
        text = f"Disabled tenant {tenant.name}: {owner} can no longer sign in or use API tokens."
    if with_domains:
        text += f" Switched {'on' if active else 'off'} {len(changed)} of its domains."
        if changed:
            text += " " + pending_note(domains_pending_proxies(changed))
    return text


@operator_required
def domain_transfer(request):
    initial = {key: request.GET.get(key, "") for key in ("domain", "tenant")}
    form = DomainTransferForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        new_owner = form.cleaned_data["tenant"] or None
        try:
            domain = domain_get_by_name(form.cleaned_data["domain"])
            old_owner = domain.tenant
            domain = domain_update(actor=request.user, domain=domain, changes={"tenant": new_owner})
        except DomainNotFound as exc:
            form.add_error("domain", str(exc))
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _transfer_message(domain, old_owner))
            shown = domain.tenant or old_owner
            return redirect("portal:tenant", pk=shown.pk) if shown else redirect("portal:tenants")
    return render(request, "portal/operator/tenant_transfer.html", {"form": form})


def _transfer_message(domain: Domain, old_owner: Tenant | None) -> str:
    def name(tenant):
        return f"tenant {tenant.name}" if tenant else "no tenant"

    shown = name_for_people(domain.did)
    if old_owner == domain.tenant:
        return f"{shown} belongs to {name(old_owner)} already: nothing changed."
    # The proxies read no tenant: what they serve stays as it was.
    return (
        f"Moved {shown} from {name(old_owner)} to {name(domain.tenant)}. "
        "The proxies serve it as before."
    )
