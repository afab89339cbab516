"""Files a page hands out: a CSV download, streamed as it is written."""

import re
from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header


def csv_download(filename: str, lines: Iterable[str]) -> StreamingHttpResponse:
    """``lines`` (serweb.bulk.csv_lines) as an attachment named ``filename``; never cached,
    as a list may hold what only its reader may see."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-") or "export.csv"
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, safe)
    response["Cache-Control"] = "no-store"
    return response
