"""One domain's page for operators: its names, attributes, tenant, subscribers and DNS,
and every change to them, each one service call."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from api.jobs import job_start
from api.models import Job
from domains import services
from domains.dns.name_controls import name_exempt_set, name_restore
from domains.models import NameState
from domains.names import HostName, NameKind
from domains.selectors import domains_visible_to
from portal.access import operator_required
from portal.actions import changed, perform
from portal.domain_selectors import domain_page, verify_job
from portal.forms.domains import (
    AttributeForm,
    AttributeUnsetForm,
    DeleteForm,
    NameChoiceForm,
    NameExemptForm,
    NameForm,
    TenantForm,
)

DETAIL = "portal/operator/domain_detail.html"
# A form of one field: every refusal of its service is about that field.
ONE_FIELD = {NON_FIELD_ERRORS: "name"}
# A deletion is refused for the consent its checkbox gives.
CONSENT = {NON_FIELD_ERRORS: "force"}


def _domain(request, did: str):
    return get_object_or_404(domains_visible_to(request.user).select_related("tenant"), did=did)


def _shown(name) -> str:
    return HostName(name.name, name.kind).display


def _page(request, domain, *, status: int = 200, job: Job | None = None, **forms_given):
    """The domain's page; ``forms_given``, those of its forms that come back with errors."""
    context = {
        "page": domain_page(domain, job=job),
        "name_form": NameForm(prefix="alias"),
        "attribute_form": AttributeForm(prefix="attr"),
        "tenant_form": TenantForm(initial={"tenant": domain.tenant_id}),
        **forms_given,
    }
    return render(request, DETAIL, context, status=status)


def _back(domain):
    return redirect("portal:domain", did=domain.did)


@operator_required
def domain_detail(request, did: str):
    return _page(request, _domain(request, did))


@operator_required
@require_POST
def domain_switch(request, did: str, enabled: bool):
    domain = _domain(request, did)
    form = forms.Form(request.POST)
    service = services.domain_enable if enabled else services.domain_disable
    done, _domain_now = perform(request, form, service, domain=domain)
    if not done:
        return _page(request, domain, switch_form=form, status=400)
    changed(request, f"domain {domain.did} {'enabled' if enabled else 'disabled'}")
    return _back(domain)


@operator_required
@require_POST
def domain_name_add(request, did: str):
    domain = _domain(request, did)
    form = NameForm(request.POST, prefix="alias")
    if form.is_valid():
        name = form.cleaned_data["name"]
        done, added = perform(
            request, form, services.domain_name_add, domain=domain, name=name, fields=ONE_FIELD
        )
        if done:
            changed(request, f"{_shown(added)} is now a name of {domain.did}")
            return _back(domain)
    return _page(request, domain, name_form=form, status=400)


def _name_change(request, did: str, service, told, form_class=NameChoiceForm):
    """One of the domain's names, given by the form, changed by ``service`` (with the
    form's other fields); ``told`` says what changed from the name and the answer."""
    domain = _domain(request, did)
    form = form_class(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        done, answer = perform(request, form, service, domain=domain, **form.cleaned_data)
        if done:
            changed(request, told(domain, name, answer))
            return _back(domain)
    return _page(request, domain, names_form=form, status=400)


@operator_required
@require_POST
def domain_name_canonical(request, did: str):
    return _name_change(
        request,
        did,
        services.domain_make_canonical,
        lambda domain, _name, made: f"{_shown(made)} is now the canonical name of {domain.did}",
    )


def _removed(domain, name: str, promoted) -> str:
    told = f" and {_shown(promoted)} became its canonical name" if promoted else ""
    return f"{name} removed from {domain.did}{told}"


@operator_required
@require_POST
def domain_name_remove(request, did: str):
    return _name_change(request, did, services.domain_name_remove, _removed)


def _exempted(_domain, name: str, check) -> str:
    if check.exempt:
        says = "DNS says" if check.name.kind == NameKind.HOSTNAME else "the proxy addresses say"
        return f"exempted {name} from DNS housekeeping: served whatever {says}"
    if check.state == NameState.DISABLED and check.verdict == "foreign":
        return f"put {name} back under DNS housekeeping; it is disabled: {check.reason}"
    return f"put {name} back under DNS housekeeping"


@operator_required
@require_POST
def domain_name_exempt(request, did: str):
    return _name_change(request, did, name_exempt_set, _exempted, NameExemptForm)


@operator_required
@require_POST
def domain_name_restore(request, did: str):
    return _name_change(
        request,
        did,
        name_restore,
        lambda domain, name, _check: (
            f"restored {name}: not served until DNS points it at us again (Verify now checks it)"
        ),
    )


@operator_required
@require_POST
def domain_attribute_set(request, did: str):
    domain = _domain(request, did)
    form = AttributeForm(request.POST, prefix="attr")
    if form.is_valid():
        data = form.cleaned_data
        done, attribute = perform(
            request,
            form,
            services.domain_attribute_set,
            domain=domain,
            name=data["name"],
            value=data["value"],
            as_int=data["as_int"],
            accept_password_reset=data["accept_password_reset"],
        )
        if done:
            changed(request, f"attribute {attribute.name}={attribute.value} set on {domain.did}")
            return _back(domain)
    return _page(request, domain, attribute_form=form, status=400)


@operator_required
@require_POST
def domain_attribute_unset(request, did: str):
    domain = _domain(request, did)
    form = AttributeUnsetForm(request.POST)
    if form.is_valid():
        name, accept = form.cleaned_data["name"], form.cleaned_data["accept_password_reset"]
        service = services.domain_attribute_unset
        done, _none = perform(
            request, form, service, domain=domain, name=name, accept_password_reset=accept
        )
        if done:
            changed(request, f"attribute {name} unset on {domain.did}")
            return _back(domain)
    return _page(request, domain, unset_form=form, status=400)


@operator_required
@require_POST
def domain_tenant(request, did: str):
    domain = _domain(request, did)
    form = TenantForm(request.POST)
    if form.is_valid():
        tenant = form.cleaned_data["tenant"]
        done, _domain_now = perform(
            request, form, services.domain_set_tenant, domain=domain, tenant=tenant
        )
        if done:
            owner = f"tenant {tenant.name}" if tenant else "no tenant"
            changed(request, f"{domain.did} now belongs to {owner}", proxies_concerned=False)
            return _back(domain)
    return _page(request, domain, tenant_form=form, status=400)


@operator_required
@require_POST
def domain_verify(request, did: str):
    """Check the domain in DNS now, as a job; htmx shows its result where it was asked."""
    domain = _domain(request, did)
    job = job_start(
        actor=request.user, kind=Job.Kind.VERIFY_DOMAIN, target_id=domain.pk, target=domain.did
    )
    if request.htmx:
        return domain_job(request, did, job.pk)
    return redirect("portal:domain-job", did=domain.did, job=job.pk)


@operator_required
def domain_job(request, did: str, job: int):
    """A verification job of the domain: the fragment htmx polls until it is done, or the
    domain's page showing it."""
    domain = _domain(request, did)
    found = verify_job(domain, job)
    if found is None:
        raise Http404
    if request.htmx:
        done = found.state in (Job.State.DONE, Job.State.FAILED)
        context = {"page": domain_page(domain, job=found), "job": found, "oob": done}
        return render(request, "portal/operator/_domain_job.html", context)
    return _page(request, domain, job=found)


@operator_required
def domain_delete(request, did: str):
    """A page naming what goes with the domain; deleting it once confirmed."""
    domain = _domain(request, did)
    form = DeleteForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        force = form.cleaned_data["force"]
        done, gone = perform(
            request, form, services.domain_delete, domain=domain, force=force, fields=CONSENT
        )
        if done:
            changed(
                request,
                f"domain {gone.did} deleted with its {len(gone.names)} name(s), "
                f"{gone.attributes} attribute(s), {gone.subscribers} subscriber(s) and "
                f"{gone.user_aliases} user alias(es)",
            )
            return redirect("portal:domains")
    summary = services.domain_deletion_summary(domain)
    context = {"domain": domain, "summary": summary, "form": form}
    status = 400 if form.errors else 200
    return render(request, "portal/operator/domain_delete.html", context, status=status)
