"""Import and export: a CSV file uploaded, previewed, confirmed and run as a job whose
progress the page polls; the refused rows handed back; lists downloaded as CSV."""

from pathlib import Path

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from api import imports
from api.jobs import job_start
from api.models import Job
from domains.bulk import domains_export_csv
from domains.models import Domain
from portal.access import operator_required
from portal.domain_selectors import domain_filters
from portal.downloads import csv_download
from portal.forms.imports import ImportForm
from proxies.status import reload_waiting_note
from serweb.bulk import ImportRejected
from serweb.errors import add_to_form
from subscribers.bulk import subscribers_export_csv
from subscribers.filters import SubscriberSearch
from subscribers.selectors import subscribers_visible_to

# Of a preview's refused rows, those listed on the page (the others are counted).
ERRORS_SHOWN = 200
RECENT_IMPORTS = 10


def _upload(request, token: str) -> imports.Upload:
    try:
        return imports.upload_get(actor=request.user, token=token)
    except imports.UploadNotFound:
        raise Http404("no such upload") from None


def _job(request, job_id: int) -> Job:
    try:
        return imports.import_job_get(actor=request.user, job_id=job_id)
    except Job.DoesNotExist:
        raise Http404("no such import") from None


@operator_required
def import_page(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            upload = imports.import_upload(
                actor=request.user, kind=form.cleaned_data["kind"], file=form.cleaned_data["file"]
            )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            return redirect("portal:import-preview", token=upload.token)
    jobs = imports.import_jobs_of(request.user)[:RECENT_IMPORTS]
    recent = [(job, imports.import_job_source(job)) for job in jobs]
    return render(request, "portal/operator/import.html", {"form": form, "recent": recent})


@operator_required
def import_preview(request, token: str):
    upload = _upload(request, token)
    try:
        report, refused = imports.import_preview(actor=request.user, upload=upload), None
    except ImportRejected as rejected:
        report, refused = None, rejected.errors
    context = {"upload": upload, "report": report, "refused": refused, "shown": ERRORS_SHOWN}
    return render(request, "portal/operator/import_preview.html", context)


@operator_required
@require_POST
def import_run(request, token: str):
    upload = _upload(request, token)
    job = job_start(actor=request.user, kind=upload.job_kind, target_id=0, target=upload.job_target)
    messages.success(request, f"The import of {upload.name} has started.")
    return redirect("portal:import-job", job_id=job.pk)


@operator_required
@require_POST
def import_discard(request, token: str):
    upload = _upload(request, token)
    imports.upload_discard(actor=request.user, upload=upload)
    messages.info(request, f"{upload.name} was discarded; nothing was imported.")
    return redirect("portal:import")


@operator_required
def import_job(request, job_id: int):
    job = _job(request, job_id)
    done = job.state == Job.State.DONE
    context = {
        "job": job,
        "source": imports.import_job_source(job),
        # New domains are not served before every proxy has reloaded.
        "note": reload_waiting_note() if done and job.kind == Job.Kind.IMPORT_DOMAINS else None,
    }
    fragment = request.htmx and request.GET.get("part") == "progress"
    template = "import_job_progress.html" if fragment else "import_job.html"
    return render(request, f"portal/operator/{template}", context)


@operator_required
def import_bad_rows(request, job_id: int):
    job = _job(request, job_id)
    bad = imports.import_job_bad_rows(job)
    if bad is None:
        raise Http404("the import has not ended")
    stem = Path(imports.import_job_source(job)).stem or "import"
    return csv_download(f"{stem}-bad-rows.csv", bad.csv())


@operator_required
def export_domains(request):
    """The domains the list's filters (the same query parameters) find, or all of them."""
    filters = domain_filters(request.user, request.GET)
    if not filters.is_valid():
        return HttpResponseBadRequest(
            "the list's filters are not valid: " + filters.errors.as_text()
        )
    lines = domains_export_csv(queryset=Domain.objects.filter(pk__in=filters.qs.values("pk")))
    return csv_download("domains.csv", lines)


@operator_required
def export_subscribers(request):
    """The subscribers the list's search (the same query parameters) finds, or all of them."""
    search = SubscriberSearch(request.GET, queryset=subscribers_visible_to(request.user))
    if not search.is_valid():
        return HttpResponseBadRequest("the list's search is not valid: " + search.errors.as_text())
    lines = subscribers_export_csv(queryset=search.qs)
    return csv_download("subscribers.csv", lines)
