"""Files a page hands out: a CSV download, streamed as it is written; a text file."""

import re
from collections.abc import Iterable

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header


def _attachment(response, filename: str, default: str):
    # Never cached: a list or a token may be what only its reader may see.
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-") or default
    response["Content-Disposition"] = content_disposition_header(True, safe)
    response["Cache-Control"] = "no-store"
    return response


def csv_download(filename: str, lines: Iterable[str]) -> StreamingHttpResponse:
    """``lines`` (serweb.bulk.csv_lines) as an attachment named ``filename``."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    return _attachment(response, filename, "export.csv")


def text_download(filename: str, text: str) -> HttpResponse:
    """``text`` as a plain-text attachment named ``filename``."""
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    return _attachment(response, filename, "download.txt")
