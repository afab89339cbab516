"""A tenant claims a domain: types its name, is shown exactly what to publish, checks it
now (a job, at most once per cooldown) or waits for the periodic retries, and gets the
domain once the ownership record is there."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from api.jobs import dns_check_start, latest_check
from api.models import Job
from domains.dns.claims import claims_held, domain_claim_start, domain_claim_withdraw
from domains.models import DomainClaim
from portal.access import tenant_required
from portal.forms import posted
from portal.forms.tenant import ClaimForm
from portal.views.tenant.dns import PANEL, records_context, snippet_download, started
from serweb.errors import add_to_form


def _claim_or_404(request, pk: int) -> DomainClaim:
    return get_object_or_404(DomainClaim.objects.filter(tenant=request.tenant), pk=pk)


def _panel(claim: DomainClaim) -> dict:
    job = latest_check(Job.Kind.VERIFY_CLAIM, claim.pk)
    context = records_context(name=claim.name, token=claim.token, job=job)
    return {
        **context,
        "claim": claim,
        "check_url": reverse("portal:my-claim-check", args=[claim.pk]),
        "status_url": reverse("portal:my-claim-status", args=[claim.pk]),
        "zone_url": reverse("portal:my-claim-zone", args=[claim.pk]),
    }


@tenant_required
def claim_add(request):
    form = ClaimForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            claim = domain_claim_start(
                actor=request.user, tenant=request.tenant, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            add_to_form(form, exc, fields={NON_FIELD_ERRORS: "name"})
        else:
            messages.success(request, f"Claim of {claim.name} started: publish the records below.")
            return redirect("portal:my-claim", pk=claim.pk)
    held, waiting = claims_held(request.tenant, timezone.now())
    context = {"form": form, "held": held, "waiting": waiting, "tenant": request.tenant}
    return render(request, "portal/tenant/claim_add.html", context)


@tenant_required
def claim_detail(request, pk: int):
    claim = _claim_or_404(request, pk)
    if claim.domain_id is not None:
        # Proven: what is left is the domain's, on its own page.
        return redirect("portal:my-domain", did=claim.domain.did)
    return render(request, "portal/tenant/claim_detail.html", _panel(claim))


@tenant_required
def claim_zone(request, pk: int):
    claim = _claim_or_404(request, pk)
    return snippet_download(claim.name, claim.token)


@tenant_required
@require_POST
def claim_check(request, pk: int):
    claim = _claim_or_404(request, pk)
    answer = started(
        request,
        lambda: dns_check_start(actor=request.user, claim=claim),
        page=reverse("portal:my-claim", args=[claim.pk]),
        panel=lambda: _panel(claim),
    )
    return _to_domain_once_proven(request, claim, answer)


@tenant_required
def claim_status(request, pk: int):
    """The records panel (htmx polls it while a check runs); without JS, the claim page."""
    claim = _claim_or_404(request, pk)
    if not request.htmx:
        return claim_detail(request, pk)
    return _to_domain_once_proven(request, claim, render(request, PANEL, _panel(claim)))


def _to_domain_once_proven(request, claim: DomainClaim, answer):
    claim.refresh_from_db()
    if request.htmx and claim.domain_id is not None:
        answer["HX-Redirect"] = reverse("portal:my-domain", args=[claim.domain.did])
    return answer


@tenant_required
@require_POST
def claim_withdraw(request, pk: int):
    claim = _claim_or_404(request, pk)
    try:
        domain_claim_withdraw(actor=request.user, claim=claim)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:my-claim", pk=claim.pk)
    messages.success(request, f"Claim of {claim.name} withdrawn.")
    return redirect("portal:my-domains")
