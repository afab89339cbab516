"""What a claim's page and a domain's page share: the records to publish, each with what
serweb saw of it at the last check, the "check now" panel with its cooldown, and the
zone-file snippet to download."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.shortcuts import redirect, render

from api.exceptions import CheckTooSoon
from api.jobs import check_wait
from api.models import Job
from domains.attributes import KNOWN_ATTRIBUTES
from domains.dns.policy import DnsPolicy
from domains.dns.publish import Record, attribute_records, domain_records, zone_snippet
from portal.downloads import text_download

PANEL = "portal/tenant/_records.html"


@dataclass(frozen=True)
class RecordRow:
    record: Record
    # Relative to the zone: the whole owner, and for editors with Service and Protocol
    # fields, what is left of it.
    host: str
    srv_host: str
    # The last check's entry for the record (domains.dns.records RecordCheck.to_json).
    check: dict[str, Any] | None = None


def _row(record: Record, zone: str, check: dict[str, Any] | None = None) -> RecordRow:
    srv_host = record.srv_host(zone) if record.rdtype == "SRV" else ""
    return RecordRow(record, record.host(zone), srv_host, check)


def example_attributes(current: dict[str, str]) -> dict[str, str]:
    """What the optional attribute records could hold: the values in force, else each
    attribute's default (a realm's is the domain itself, so it is left out)."""
    examples = {}
    for name, spec in KNOWN_ATTRIBUTES.items():
        if not spec.from_dns:
            continue
        value = current.get(name, spec.default)
        if value is not None:
            examples[name] = value
    return examples


def records_context(
    *, name: str, token: str | None, job: Job | None, attributes: dict[str, str] | None = None
) -> dict[str, Any]:
    """The records of ``name`` as the pages show them, with ``job``'s findings."""
    policy = DnsPolicy.from_settings()
    records = domain_records(name, token=token, policy=policy)
    optional = attribute_records(
        name, values=example_attributes(attributes or {}), config_label=policy.config_label
    )
    report = ((job.result or {}).get("records") if job is not None else None) or {}
    found = {
        (c["record"]["name"], c["record"]["type"], c["record"]["data"]): c
        for c in report.get("checks", [])
    }
    zone = report.get("zone") or name
    rows = [_row(r, zone, found.get((r.name, r.rdtype, r.rdata))) for r in records]
    return {
        "name": name,
        "zone": zone,
        "report": report,
        "srv_rows": [row for row in rows if row.record.rdtype == "SRV"],
        "txt_rows": [row for row in rows if row.record.rdtype == "TXT"],
        "optional_rows": [_row(r, zone) for r in optional],
        "snippet": zone_snippet(name, [*records, *optional]),
        "job": job,
        "wait": check_wait(job),
        "running": job is not None and job.state in (Job.State.QUEUED, Job.State.RUNNING),
    }


def snippet_download(name: str, token: str | None, attributes: dict[str, str] | None = None):
    context = records_context(name=name, token=token, job=None, attributes=attributes)
    return text_download(f"{name}.zone.txt", context["snippet"])


def started(request, start, *, page: str, panel) -> Any:
    """Answer a "check now": the panel for htmx (its cooldown or progress shown in it),
    else a message and the page. ``start`` starts the job; ``panel()`` renders the panel's
    context once it has."""
    try:
        job = start()
    except CheckTooSoon as exc:
        job = None
        note = f"Checked a moment ago: you can check again in {exc.retry_after} s."
    else:
        note = _job_note(job)
    if request.htmx:
        # The panel shows the check's outcome itself; only a refusal needs saying.
        context = panel()
        return render(request, PANEL, {**context, "note": "" if job else note})
    if job is None:
        messages.warning(request, note)
    else:
        messages.info(request, note)
    return redirect(page)


def _job_note(job: Job) -> str:
    job.refresh_from_db()  # without a broker it has run already
    if job.state == Job.State.FAILED:
        return f"The check could not run: {(job.error or {}).get('detail', 'unknown error')}."
    if job.state != Job.State.DONE:
        return "Checking now: the results appear record by record."
    result = job.result or {}
    if result.get("verified") is False:
        return f"Checked: {result.get('claim_result') or 'not proven yet'}."
    return f"Checked: {result.get('name', job.target)} is {result.get('to_state', 'checked')}."
