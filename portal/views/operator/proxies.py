"""The proxies serweb reloads: their live status, adding, editing, deleting, and a reload
now, run as a job whose result the page polls."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from api.jobs import job_start
from api.models import Job
from portal.access import operator_required
from portal.actions import perform
from portal.forms import posted
from portal.forms.proxies import ProxyEditForm, ProxyForm
from proxies import services
from proxies.models import Proxy
from proxies.status import proxy_status_list

# Of the domains a proxy has not loaded, the most recent ones shown by name.
PENDING_SHOWN = 5
# The event a finished reload sends the status table (HX-Trigger), so it refreshes at once.
STATUS_CHANGED = "proxy-status-changed"


def _reload_jobs():
    return Job.objects.filter(kind=Job.Kind.RELOAD_PROXY)


@operator_required
def proxy_list(request):
    status = {"proxies": proxy_status_list(pending_limit=PENDING_SHOWN), "manage": True}
    if request.htmx and request.GET.get("part") == "status":
        return render(request, "portal/operator/_proxies.html", status)
    wanted = request.GET.get("job", "")
    job = None
    if wanted.isascii() and wanted.isdigit() and len(wanted) < 19:
        job = _reload_jobs().select_related("user").filter(pk=wanted).first()
    return render(request, "portal/operator/proxy_list.html", {**status, "job": job})


@operator_required
def proxy_add(request):
    form = ProxyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        created, proxy = perform(request, form, services.proxy_create, **form.cleaned_data)
        if created:
            messages.success(
                request, f"Added proxy {proxy.name}. It serves nothing of serweb's yet: reload it."
            )
            return redirect("portal:proxies")
    return render(request, "portal/operator/proxy_form.html", {"form": form})


@operator_required
def proxy_edit(request, pk: int):
    proxy = get_object_or_404(Proxy, pk=pk)
    fields = ["name", "transport", "address", "sip_address", "enabled"]
    form = ProxyEditForm(posted(request), initial={f: getattr(proxy, f) for f in fields})
    if request.method == "POST" and form.is_valid():
        saved, updated = perform(
            request, form, services.proxy_update, proxy=proxy, **form.cleaned_data
        )
        if saved:
            messages.success(request, f"Saved proxy {updated.name}. {_edit_note(updated)}")
            return redirect("portal:proxies")
    return render(request, "portal/operator/proxy_form.html", {"form": form, "proxy": proxy})


def _edit_note(proxy: Proxy) -> str:
    if not proxy.enabled:
        return "It is not reloaded while switched off."
    if proxy.applied_generation == 0:
        return "It serves nothing of serweb's yet: reload it."
    return ""


@operator_required
def proxy_delete(request, pk: int):
    proxy = get_object_or_404(Proxy, pk=pk)
    if request.method == "POST":
        try:
            services.proxy_delete(actor=request.user, proxy=proxy)
        except Proxy.DoesNotExist:
            pass  # deleted meanwhile: what was asked for is done
        messages.success(
            request,
            f"Deleted proxy {proxy.name}: serweb no longer reloads it "
            "(the Kamailio keeps running with the domains it has loaded).",
        )
        return redirect("portal:proxies")
    return render(request, "portal/operator/proxy_delete.html", {"proxy": proxy})


@operator_required
@require_POST
def proxy_reload(request, pk: int):
    proxy = get_object_or_404(Proxy, pk=pk)
    job = job_start(
        actor=request.user, kind=Job.Kind.RELOAD_PROXY, target_id=proxy.pk, target=proxy.name
    )
    messages.info(request, f"Reload of {proxy.name} asked for; its result shows below.")
    return redirect(f"{reverse('portal:proxies')}?job={job.pk}")


@operator_required
def proxy_reload_job(request, job_id: int):
    job = get_object_or_404(_reload_jobs(), pk=job_id)
    if not request.htmx:
        return render(request, "portal/operator/proxy_reload_job.html", {"job": job})
    answer = render(request, "portal/operator/_reload_job.html", {"job": job})
    if job.state in (Job.State.DONE, Job.State.FAILED):
        answer["HX-Trigger"] = STATUS_CHANGED
    return answer
