"""Adopting a Kamailio: its stock tables mapped onto serweb's domains, subscribers, valid
From identities and user aliases, with a report of every row that could not be mapped.

The mapping follows what a Kamailio with the reference configuration does with the rows:

- ``domain``: the names of one did (a NULL did is the name itself) become one domain; the
  canonical name is the did when it is one of them, else the shortest host name. Names
  are compared as DNS compares them (case-insensitively), so rows differing only in case
  are duplicates. A did with a name or did serweb already has is not adopted at all.
- ``domain_attrs``: one value per (did, name), typed as Kamailio types it (0 integer,
  2 string) and checked as serweb checks attributes.
- ``subscriber``: keyed by did, as the proxy looks subscribers up; HA1/HA1b kept as they
  are (the realm they were made with is the domain's realm: its did or its realm
  attribute), computed from the clear password only where they are empty; the clear
  password kept only when SERWEB_STORE_CLEAR_PASSWORDS says so.
- ``uri``: each row one valid From identity, exactly those (with the uri table on, a
  user's own name needs a row too); ``dbaliases``: each row one user alias.

Everything adopted is written in one transaction with one audit entry and one reload.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from portability.kamailio import KamailioTables, kamailio_tables_read
from portability.mapping import Mapper
from portability.records import Document
from portability.report import AdoptionReport, Unmapped
from portability.writer import concurrent_writes_refused, document_write

__all__ = ["AdoptionReport", "Unmapped", "adoption_plan", "kamailio_adopt"]


def adoption_plan(
    tables: KamailioTables, *, dry_run: bool, now: datetime | None = None
) -> tuple[Document, AdoptionReport]:
    """What adopting these tables writes (its timestamps ``now``), and the report of what
    it leaves out."""
    report = AdoptionReport(
        source=tables.source, versions=tables.versions, absent=tables.absent, dry_run=dry_run
    )
    document = Mapper(tables, report, now or timezone.now()).run()
    return document, report


def kamailio_adopt(*, actor: Actor, url: str, dry_run: bool = False) -> AdoptionReport:
    """Adopt the Kamailio database at ``url``: what maps, in one transaction; the report
    names every row left out and why. ``dry_run`` writes nothing."""
    tables = kamailio_tables_read(url)
    with concurrent_writes_refused(), transaction.atomic():
        document, report = adoption_plan(tables, dry_run=dry_run)
        if dry_run or not (document.domains or document.subscribers):
            return report
        document_write(document)
        audit_record(
            actor=actor,
            action="adopt.kamailio",
            object_type="import",
            object_repr=tables.source,
            after={
                "source": tables.source,
                "domains": report.domains,
                "names": report.names,
                "attributes": report.attributes,
                "subscribers": report.subscribers,
                "valid_froms": report.valid_froms,
                "user_aliases": report.user_aliases,
                "not_adopted": len(report.unmapped),
            },
        )
    return report
