"""A tenant's history: the audit entries of what it held at the time, newest first."""

from django.shortcuts import render

from audit.selectors import audit_entries_visible_to
from portal.access import tenant_required
from portal.paging import keyset_page

ORDERING = ("-created_at", "-id")


@tenant_required
def history(request):
    entries = audit_entries_visible_to(request.user)
    page = keyset_page(entries, request, ordering=ORDERING)
    return render(request, "portal/tenant/history.html", {"page": page})
