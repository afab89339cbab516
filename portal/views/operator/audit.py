from django.shortcuts import render

from audit.selectors import audit_entries_visible_to, audit_runs
from portal.access import operator_required
from portal.forms.audit import AuditLogFilters
from portal.paging import Page, keyset_page

# Newest first; every filter's index ends in these columns (audit.models).
ORDERING = ("-created_at", "-id")


@operator_required
def audit_log(request):
    """Every change, newest first, filtered; the entries of one run (request, command, job)
    together, and ``?group=<id>`` for one run alone."""
    filters = AuditLogFilters(request.GET or None, queryset=audit_entries_visible_to(request.user))
    valid = not filters.is_bound or filters.is_valid()
    page = keyset_page(filters.qs, request, ordering=ORDERING) if valid else Page(items=[])
    context = {
        "filters": filters,
        "valid": valid,
        "page": page,
        "runs": audit_runs(request.user, page.items),
        "group": filters.form.cleaned_data.get("group") if filters.is_bound and valid else None,
    }
    # The pager swaps the list alone (htmx); a reload or a restored history gets the page.
    partial = request.htmx.target == "audit-list" and not request.htmx.history_restore_request
    template = "portal/operator/audit_list.html" if partial else "portal/operator/audit.html"
    return render(request, template, context)
