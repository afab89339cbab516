"""The operators' domain list: search, filters, sorting and pages; a new domain; bulk
actions on ticked rows or on every domain the filter finds, confirmed first."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from domains import bulk_actions, services
from portal.access import operator_required
from portal.actions import changed, perform
from portal.domain_selectors import BulkTargets, bulk_targets, domain_list_page
from portal.forms.bulk import BulkForm
from portal.forms.domains import DomainCreateForm
from serweb.errors import add_to_form

LIST = "portal/operator/domain_list.html"
# The bulk services' arguments on the form: the domains are what "apply to" chose.
BULK_FIELDS = {"domains": "scope"}


@operator_required
def domain_list(request):
    """The list; a POST is a bulk action on it. The filter form swaps the results in place
    (htmx); the same address is the whole page."""
    if request.method == "POST":
        return _bulk(request)
    listing = domain_list_page(request.user, request.GET)
    bulk = BulkForm(initial={"query": listing.query})
    template = "portal/operator/_domain_results.html" if request.htmx else LIST
    return render(request, template, {"listing": listing, "bulk": bulk})


@operator_required
def domain_create(request):
    form = DomainCreateForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        done, domain = perform(
            request,
            form,
            services.domain_create,
            name=data["name"],
            aliases=data["aliases"],
            did=data["did"] or None,
            tenant=data["tenant"],
            enabled=data["enabled"],
        )
        if done:
            changed(request, f"domain {domain.did} created")
            return redirect("portal:domain", did=domain.did)
    status = 400 if form.errors else 200
    return render(request, "portal/operator/domain_create.html", {"form": form}, status=status)


def _list_url(query: str) -> str:
    return reverse("portal:domains") + (f"?{query}" if query else "")


def _apply(request, form: BulkForm, targets: BulkTargets) -> str | None:
    """Run the confirmed action; what to tell, or None when the service refused."""
    action, ids = form.cleaned_data["action"], targets.ids
    if action == "delete":
        force = form.cleaned_data["force"]
        done, gone = perform(
            request,
            form,
            bulk_actions.domains_delete,
            domains=ids,
            force=force,
            fields={**BULK_FIELDS, NON_FIELD_ERRORS: "force"},
        )
        return f"{len(gone)} domain(s) deleted" if done else None
    enabled = action == "enable"
    done, switched = perform(
        request,
        form,
        bulk_actions.domains_set_enabled,
        domains=ids,
        enabled=enabled,
        fields=BULK_FIELDS,
    )
    if not done:
        return None
    verb = "enabled" if enabled else "disabled"
    return f"{len(switched)} domain(s) {verb} ({len(ids) - len(switched)} already were)"


def _bulk(request):
    """First the confirmation, naming the domains and what goes with them; then, if the
    filter still finds the same domains, the action."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        listing = domain_list_page(request.user, QueryDict(request.POST.get("query", "")))
        return render(request, LIST, {"listing": listing, "bulk": form}, status=400)
    data = form.cleaned_data
    targets = bulk_targets(request.user, query=data["query"], every=form.every, dids=data["did"])
    if data["confirmed"] and data["confirmed"] == targets.fingerprint:
        told = _apply(request, form, targets)
        if told is not None:
            changed(request, told)
            return redirect(_list_url(data["query"]))
    elif data["confirmed"]:
        form.add_error(None, "The filter finds other domains now: check them again.")
    return _confirmation(request, form, targets)


def _confirmation(request, form: BulkForm, targets: BulkTargets):
    try:
        bulk_actions.domains_bulk_ids(targets.ids)
    except ValidationError as exc:
        add_to_form(form, exc, fields=BULK_FIELDS)
    deleting = form.cleaned_data["action"] == "delete"
    context = {
        "form": form,
        "targets": targets,
        "action": dict(form.fields["action"].choices)[form.cleaned_data["action"]],
        "totals": bulk_actions.domains_deletion_totals(targets.ids) if deleting else None,
        "back": _list_url(form.cleaned_data["query"]),
    }
    status = 400 if form.errors else 200
    return render(request, "portal/operator/domain_bulk.html", context, status=status)
