from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render

from domains.selectors import domains_visible_to
from portal.access import tenant_required

PAGE_SIZE = 50


@tenant_required
def domain_list(request):
    domains = (
        domains_visible_to(request.user)
        .prefetch_related("names")
        .annotate(subscriber_count=Count("subscribers"))
        .order_by("did")
    )
    page = Paginator(domains, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/tenant/domains.html", {"page": page, "tenant": request.tenant})
