"""Imports started from the portal: the uploaded file kept private until its job ends, the
preview of what it would do, and the job that does it, with the bulk services the command
line uses (in their modes that write the good rows and hand the bad ones back).

An uploaded subscriber file may carry passwords: it never enters the database. It is kept
in SERWEB_VAR_DIR/imports/ (a directory only serweb's user may enter, the file mode 0600)
under a random token, beside a small description (its kind, who uploaded it, its name).
The job that imports it removes both when it ends; the next upload removes those older
than UPLOAD_HOURS. A job's result keeps the bad rows to hand back, their secrets left out.
"""

import codecs
import json
import os
import re
import secrets
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files import File
from django.db.models import QuerySet

from api.models import Job
from api.progress import JobProgress
from domains.bulk import DomainColumnsImport
from serweb import bulk
from serweb.bulk import BadRows, BulkImport, ImportRejected, ImportReport, Mode
from subscribers.bulk import SubscriberImport

KINDS: dict[str, type[BulkImport]] = {
    "domains": DomainColumnsImport,
    "subscribers": SubscriberImport,
}
JOB_KINDS = {"domains": Job.Kind.IMPORT_DOMAINS, "subscribers": Job.Kind.IMPORT_SUBSCRIBERS}
# An upload nobody imported is removed after this many hours.
UPLOAD_HOURS = 24
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


class UploadNotFound(ObjectDoesNotExist):
    pass


@dataclass(frozen=True)
class Upload:
    token: str
    kind: str
    user_id: int
    name: str
    created: float

    @property
    def path(self) -> Path:
        return uploads_dir() / f"{self.token}.csv"

    @property
    def importer(self) -> type[BulkImport]:
        return KINDS[self.kind]

    @property
    def job_kind(self) -> str:
        return JOB_KINDS[self.kind]

    @property
    def job_target(self) -> str:
        """What its job is about: the token, then the file's name."""
        return f"{self.token} {self.name}"[: Job._meta.get_field("target").max_length]


def uploads_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)  # made by someone else, or before this rule
    return path


def _description(token: str, *, claimed: bool = False) -> Path:
    return uploads_dir() / f"{token}.{'claimed' if claimed else 'json'}"


def _private_file(path: Path):
    """A new file only its owner may read."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _store(file: File, path: Path) -> None:
    """Copy the upload, refusing what is not UTF-8 text on the way."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with _private_file(path) as out:
        try:
            for chunk in file.chunks():
                if b"\x00" in chunk:
                    raise ValidationError({"file": "this is not a CSV file: it holds binary data"})
                decoder.decode(chunk)
                out.write(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ValidationError(
                {"file": "the file is not UTF-8 text; save it as CSV in UTF-8"}
            ) from None


def _remove(token: str) -> None:
    for path in (
        uploads_dir() / f"{token}.csv",
        _description(token),
        _description(token, claimed=True),
    ):
        path.unlink(missing_ok=True)


def uploads_sweep(*, now: float | None = None) -> int:
    """Remove the uploads older than UPLOAD_HOURS; how many there were."""
    oldest = (now or time.time()) - UPLOAD_HOURS * 3600
    tokens = set()
    for path in uploads_dir().iterdir():
        try:
            if path.stat().st_mtime < oldest:
                tokens.add(path.name.partition(".")[0])
        except FileNotFoundError:
            continue  # removed by its job meanwhile
    for token in tokens:
        _remove(token)
    return len(tokens)


def import_upload(*, actor: AbstractBaseUser, kind: str, file: File) -> Upload:
    """Keep an uploaded CSV file for its preview and its import. A file that is not UTF-8
    text, not CSV, or whose header this kind of import does not take is refused."""
    if kind not in KINDS:
        raise ValidationError({"kind": f"one of {', '.join(KINDS)}"})
    uploads_sweep()
    name = Path(file.name or "upload.csv").name
    upload = Upload(secrets.token_urlsafe(16), kind, actor.pk, name, time.time())
    try:
        _store(file, upload.path)
        bulk.file_header_check(upload.importer, upload.path)
    except ImportRejected as rejected:
        _remove(upload.token)
        raise ValidationError({"file": [error.message for error in rejected.errors]}) from None
    except BaseException:
        _remove(upload.token)
        raise
    with _private_file(_description(upload.token)) as out:
        description = {key: value for key, value in asdict(upload).items() if key != "token"}
        out.write(json.dumps(description).encode())
    return upload


def upload_get(*, actor: AbstractBaseUser, token: str) -> Upload:
    """The actor's own upload, not yet imported nor expired."""
    if not _TOKEN.match(token or ""):
        raise UploadNotFound("no such upload")
    try:
        upload = Upload(token=token, **json.loads(_description(token).read_text()))
    except (OSError, ValueError, TypeError):
        raise UploadNotFound("no such upload: it was imported, discarded or expired") from None
    if upload.user_id != actor.pk or upload.created < time.time() - UPLOAD_HOURS * 3600:
        raise UploadNotFound("no such upload: it was imported, discarded or expired")
    return upload


def upload_discard(*, actor: AbstractBaseUser, upload: Upload) -> None:
    _remove(upload.token)


def import_preview(*, actor: AbstractBaseUser, upload: Upload) -> ImportReport:
    """What importing the upload would create and which rows it would refuse; nothing is
    written. A file that cannot be imported at all raises ImportRejected."""
    return bulk.import_file(
        upload.importer, actor=actor, path=upload.path, source=upload.name, mode=Mode.PREVIEW
    )


# --- the job ------------------------------------------------------------------------------


def _claim(job: Job) -> Upload:
    """The job's upload, taken so that no other job imports it too."""
    token = job.target.partition(" ")[0]
    upload = upload_get(actor=job.user, token=token)
    try:
        _description(token).rename(_description(token, claimed=True))
    except FileNotFoundError:
        raise UploadNotFound("another job imports this file already") from None
    return upload


def import_job_run(job: Job) -> dict[str, Any]:
    """Import the job's upload, writing the good rows; the result counts what was created
    and keeps the bad rows to hand back. The upload is removed, whatever happens."""
    upload = _claim(job)
    progress, finished = None, False
    try:
        progress = JobProgress(job, total=bulk.count_records(upload.path))
        report = bulk.import_file(
            upload.importer,
            actor=job.user,
            path=upload.path,
            source=upload.name,
            mode=Mode.SKIP_BAD_ROWS,
            progress=progress,
        )
        bad = bulk.bad_rows(
            upload.path, report.errors, secret_columns=upload.importer.secret_columns
        )
        finished = True
    finally:
        if progress is not None:
            progress.close(finished=finished)
        _remove(upload.token)
    return {
        "kind": upload.kind,
        "source": upload.name,
        "summary": asdict(report.summary),
        # In words, its counts in their order (a JSON column may keep keys in any order).
        "created": bulk.counts_text(asdict(report.summary)),
        "rows_refused": len(report.refused_lines),
        "bad_rows": {"header": bad.header, "rows": [list(row) for row in bad.rows]},
    }


def import_jobs_of(actor: AbstractBaseUser) -> QuerySet[Job]:
    """The actor's imports, newest first."""
    return Job.objects.filter(user=actor, kind__in=JOB_KINDS.values()).order_by("-id")


def import_job_get(*, actor: AbstractBaseUser, job_id: int) -> Job:
    job = import_jobs_of(actor).filter(pk=job_id).first()
    if job is None:
        raise Job.DoesNotExist(f"no import {job_id}")
    return job


def import_job_source(job: Job) -> str:
    return job.target.partition(" ")[2]


def import_job_bad_rows(job: Job) -> BadRows | None:
    """The rows a finished import refused, to fix and import again; None before it ends."""
    if job.result is None:
        return None
    kept = job.result["bad_rows"]
    return BadRows(header=kept["header"], rows=[tuple(row) for row in kept["rows"]])
