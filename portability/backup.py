"""Backups: all provisioning data as one JSON document, and its restore into an empty
database.

The document is ``{"format": "serweb-backup", "version": 2, "tenants": [...],
"domains": [...], "subscribers": [...], "proxies": [...]}`` with one record per line (see
portability/records.py). It holds secrets (HA1 hashes, kept clear passwords, claim tokens,
the owners' password hashes): it is written with mode 0600. The same data always gives
the same bytes, so export, restore and export again gives an identical file. Version 2
added each host name's DNS lifecycle (``names[].dns``); a version 1 backup restores with
none (every name active until housekeeping checks it).
"""

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import Actor, audit_record
from domains.models import Domain, DomainClaim, Tenant
from portability.checks import document_problems
from portability.records import (
    Document,
    DomainRecord,
    ProxyRecord,
    RecordError,
    SubscriberRecord,
    TenantRecord,
    record_from_json,
    record_to_json,
)
from portability.snapshot import document_read
from portability.writer import WriteSummary, concurrent_writes_refused, document_write
from proxies.models import Proxy
from subscribers.models import Subscriber

FORMAT = "serweb-backup"
VERSION = 2
# Versions still read, and how each becomes the current one.
READABLE = (1, VERSION)
SECTIONS: list[tuple[str, type]] = [
    ("tenants", TenantRecord),
    ("domains", DomainRecord),
    ("subscribers", SubscriberRecord),
    ("proxies", ProxyRecord),
]
SECRETS_NOTE = (
    "it holds password hashes (HA1, tenant logins), kept clear passwords and claim tokens: "
    "keep it secret"
)


class BackupRejected(ValidationError):
    """Nothing was restored: ``problems`` lists every one, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the backup; nothing was restored")


@dataclass(frozen=True)
class ExportSummary:
    tenants: int
    domains: int
    subscribers: int
    proxies: int
    path: str


@dataclass(frozen=True)
class RestoreSummary:
    written: WriteSummary
    # Clear passwords in the backup left out because SERWEB_STORE_CLEAR_PASSWORDS is off.
    passwords_dropped: int


# --- writing ------------------------------------------------------------------------------


def _line(record) -> str:
    return json.dumps(record_to_json(record), ensure_ascii=False)


def document_dump(document: Document, stream: IO[str]) -> None:
    stream.write(f'{{"format": "{FORMAT}", "version": {VERSION},\n')
    for position, (key, _cls) in enumerate(SECTIONS):
        records = getattr(document, key)
        stream.write(f'"{key}": [')
        for index, record in enumerate(records):
            stream.write("\n" if index == 0 else ",\n")
            stream.write(_line(record))
        stream.write("\n]" if records else "]")
        stream.write(",\n" if position < len(SECTIONS) - 1 else "\n}\n")


def backup_export(*, actor: Actor, path: str | Path, replace: bool = False) -> ExportSummary:
    """Write every tenant, domain, subscriber and proxy to ``path`` (mode 0600), atomically:
    a reader never sees half a file, and an existing file stays unless ``replace``."""
    target = Path(path)
    if target.exists() and not replace:
        raise ValidationError(f"{target} exists already; give another file or replace it")
    if target.is_dir():
        raise ValidationError(f"{target} is a directory")
    document = document_read()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            document_dump(document, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    summary = ExportSummary(
        tenants=len(document.tenants),
        domains=len(document.domains),
        subscribers=len(document.subscribers),
        proxies=len(document.proxies),
        path=str(target),
    )
    # Who took the secrets out, and when.
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="backup.export",
            object_type="backup",
            object_repr=target.name,
            after=asdict(summary),
        )
    return summary


# --- reading ------------------------------------------------------------------------------


def document_load(stream: IO[str]) -> Document:
    """The document in ``stream``, its shape checked (every key, every type)."""
    try:
        data = json.load(stream)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BackupRejected([f"{where}: not JSON: {exc.msg}"]) from None
    except UnicodeDecodeError:
        raise BackupRejected(["the file is not UTF-8 text"]) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupRejected([f'not a serweb backup (no "format": "{FORMAT}")'])
    if data.get("version") not in READABLE or type(data.get("version")) is not int:
        readable = " and ".join(str(version) for version in READABLE)
        raise BackupRejected(
            [f"backup format version {data.get('version')!r}; this serweb reads {readable}"]
        )
    if data["version"] == 1:
        _names_without_dns(data.get("domains"))
    unknown = sorted(set(data) - {"format", "version", *(key for key, _ in SECTIONS)})
    problems = [f"unknown key {key!r}" for key in unknown]
    sections = {}
    for key, cls in SECTIONS:
        items = data.get(key)
        if not isinstance(items, list):
            problems.append(f"{key}: expected a list")
            continue
        records = []
        for index, item in enumerate(items):
            try:
                records.append(record_from_json(cls, item, f"{key}[{index}]"))
            except RecordError as exc:
                problems.append(str(exc))
        sections[key] = records
    if problems:
        raise BackupRejected(problems)
    return Document(**sections)


def _names_without_dns(domains) -> None:
    """Version 1 had no DNS lifecycle per name: none was checked yet."""
    for domain in domains if isinstance(domains, list) else []:
        names = domain.get("names") if isinstance(domain, dict) else None
        for name in names if isinstance(names, list) else []:
            if isinstance(name, dict):
                name.setdefault("dns", None)


def _database_content() -> list[str]:
    counts = [
        (Tenant.objects.count(), "tenant(s)"),
        (Domain.objects.count(), "domain(s)"),
        (Subscriber.objects.count(), "subscriber(s)"),
        (Proxy.objects.count(), "proxy(ies)"),
        (DomainClaim.objects.count(), "claim(s)"),
    ]
    return [f"{count} {what}" for count, what in counts if count]


def _without_clear_passwords(document: Document) -> int:
    if settings.SERWEB_STORE_CLEAR_PASSWORDS:
        return 0
    dropped = 0
    for subscriber in document.subscribers:
        if subscriber.password:
            subscriber.password = ""
            dropped += 1
    return dropped


def backup_restore(*, actor: Actor, path: str | Path) -> RestoreSummary:
    """Restore a backup into a database without provisioning data: all of it or nothing."""
    source = Path(path)
    with open(source, encoding="utf-8") as stream:
        document = document_load(stream)
    with concurrent_writes_refused(), transaction.atomic():
        present = _database_content()
        if present:
            raise ValidationError(
                "a backup restores into a database without provisioning data; this one holds "
                + ", ".join(present)
            )
        problems = document_problems(document)
        if problems:
            raise BackupRejected(problems)
        dropped = _without_clear_passwords(document)
        written = document_write(document)
        audit_record(
            actor=actor,
            action="backup.restore",
            object_type="backup",
            object_repr=source.name,
            after={"source": source.name, **asdict(written), "passwords_dropped": dropped},
        )
    return RestoreSummary(written=written, passwords_dropped=dropped)
