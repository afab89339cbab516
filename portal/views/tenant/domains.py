"""A tenant's domains: the list (state, DNS status, the records that fail) with its claims
still waiting, a domain's page (the proxies serving it, its records and "check now", its
attributes, its subscribers), and releasing a domain.

The list filters through TenantDomainFilter (portal/forms/tenant.py), the API's domain
FilterSet with the start of a name; swapping in another FilterSet is a change of base
class there."""

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from api.jobs import dns_check_start, latest_check
from api.models import Job
from domains.attributes import KNOWN_ATTRIBUTES
from domains.dns.verification import ownership_token
from domains.models import Domain, DomainClaim
from domains.selectors import domain_effective_attributes, names_with_checks
from domains.services import domain_attribute_set, domain_attribute_unset
from domains.tenancy import domain_release, domain_rows, tenant_domains
from portal.access import tenant_required
from portal.forms.tenant import AttributeForm, TenantDomainFilter
from portal.paging import keyset_page
from portal.views.tenant.dns import PANEL, records_context, snippet_download, started
from proxies.status import domain_pending_proxies, domain_serving, pending_note
from serweb.errors import add_to_form

PAGE_SIZE = 50
ORDERING = ("did", "id")


def _domain_or_404(request, did: str) -> Domain:
    return get_object_or_404(
        Domain.objects.filter(tenant=request.tenant).prefetch_related(
            names_with_checks(), "attributes"
        ),
        did=did,
    )


@tenant_required
def domain_list(request):
    search = TenantDomainFilter(request.GET, queryset=tenant_domains(request.tenant))
    rows = search.qs if search.is_valid() else tenant_domains(request.tenant).none()
    # By did, from a cursor: a deep page costs what the first does at any size.
    page = keyset_page(rows, request, ordering=ORDERING, size=PAGE_SIZE)
    claims = DomainClaim.objects.filter(tenant=request.tenant, verified_at=None)
    context = {
        "search": search,
        "page": page,
        "rows": domain_rows(page.items),
        "claims": claims.order_by("expires_at", "name"),
        "tenant": request.tenant,
    }
    return render(request, "portal/tenant/domains.html", context)


def _attributes(domain: Domain) -> dict[str, str]:
    return {name: row.value for name, row in domain_effective_attributes(domain).items()}


def _latest_check(domain: Domain) -> Job | None:
    """The domain's latest check; before any, that of the claim that proved it."""
    job = latest_check(Job.Kind.VERIFY_DOMAIN, domain.pk)
    if job is None:
        claim = DomainClaim.objects.filter(domain=domain).values_list("pk", flat=True).first()
        job = latest_check(Job.Kind.VERIFY_CLAIM, claim) if claim is not None else None
    return job


def _panel(domain: Domain) -> dict:
    job = _latest_check(domain)
    context = records_context(
        name=domain.canonical_name,
        token=ownership_token(domain),
        job=job,
        attributes=_attributes(domain),
    )
    return {
        **context,
        "domain": domain,
        "check_url": reverse("portal:my-domain-check", args=[domain.did]),
        "status_url": reverse("portal:my-domain-status", args=[domain.did]),
        "zone_url": reverse("portal:my-domain-zone", args=[domain.did]),
    }


def _page(request, domain: Domain, **forms):
    context = {
        **_panel(domain),
        "row": domain_rows([domain])[0],
        **_serving(domain),
        "attributes": sorted(domain_effective_attributes(domain).values(), key=lambda a: a.name),
        "known": KNOWN_ATTRIBUTES,
        "attribute_form": AttributeForm(),
        **forms,
    }
    return render(request, "portal/tenant/domain_detail.html", context)


@tenant_required
def domain_detail(request, did: str):
    return _page(request, _domain_or_404(request, did))


@tenant_required
def domain_zone(request, did: str):
    domain = _domain_or_404(request, did)
    return snippet_download(domain.canonical_name, ownership_token(domain), _attributes(domain))


@tenant_required
@require_POST
def domain_check(request, did: str):
    domain = _domain_or_404(request, did)
    return started(
        request,
        lambda: dns_check_start(actor=request.user, domain=domain),
        page=reverse("portal:my-domain", args=[domain.did]),
        panel=lambda: _panel(_domain_or_404(request, did)),
    )


@tenant_required
def domain_status(request, did: str):
    """The records panel (htmx polls it while a check runs); without JS, the domain page."""
    domain = _domain_or_404(request, did)
    if not request.htmx:
        return _page(request, domain)
    return render(request, PANEL, _panel(domain))


@tenant_required
def domain_proxies(request, did: str):
    """Which proxy serves the domain as it is now (htmx polls it until all do)."""
    domain = _domain_or_404(request, did)
    if not request.htmx:
        return _page(request, domain)
    return render(request, "portal/tenant/_serving.html", {"domain": domain, **_serving(domain)})


def _serving(domain: Domain) -> dict:
    serving = domain_serving(domain)
    return {"serving": serving, "serving_waiting": any(not p.serves for p in serving)}


def _changed(request, domain: Domain, what: str) -> None:
    domain.refresh_from_db()
    messages.success(request, f"{what} {pending_note(domain_pending_proxies(domain))}")


@tenant_required
@require_POST
def attribute_set(request, did: str):
    domain = _domain_or_404(request, did)
    form = AttributeForm(request.POST)
    if form.is_valid():
        try:
            domain_attribute_set(actor=request.user, domain=domain, **form.cleaned_data)
        except ValidationError as exc:
            add_to_form(form, exc)
        except ObjectDoesNotExist:
            raise Http404 from None
        else:
            data = form.cleaned_data
            _changed(request, domain, f"{data['name']} of {domain.did} set to {data['value']}.")
            return redirect("portal:my-domain", did=domain.did)
    return _page(request, domain, attribute_form=form)


@tenant_required
@require_POST
def attribute_unset(request, did: str, name: str):
    domain = _domain_or_404(request, did)
    try:
        domain_attribute_unset(actor=request.user, domain=domain, name=name)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except ObjectDoesNotExist:
        raise Http404 from None
    else:
        _changed(request, domain, f"{name} of {domain.did} is back to its default.")
    return redirect("portal:my-domain", did=domain.did)


@tenant_required
def release(request, did: str):
    domain = _domain_or_404(request, did)
    if request.method != "POST":
        context = {"domain": domain, "subscribers": domain.subscribers.count()}
        return render(request, "portal/tenant/domain_release.html", context)
    try:
        gone = domain_release(actor=request.user, domain=domain)
    except ObjectDoesNotExist:
        raise Http404 from None
    messages.success(
        request,
        f"Released {gone.did}: it is no longer served, and its {gone.subscribers} "
        f"subscriber(s) and {gone.user_aliases} user alias(es) are deleted.",
    )
    return redirect("portal:my-domains")
