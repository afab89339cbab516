"""What every bulk import shares: numbered rows from a CSV file or from a caller, header
checks, staging tables, and the report of the rows created and the rows refused.

Rows are checked with the rules of the one-by-one services, streamed into temporary staging
tables (COPY on PostgreSQL) that carry each row's line number, conflicts within the file and
with the database are found with set-based SQL, and only then are the rows written with
INSERT ... SELECT, in one transaction with one audit entry.

Three modes: ALL_OR_NOTHING refuses the whole file for one bad row (the command, the API);
SKIP_BAD_ROWS writes the good rows and reports the bad ones (an import run from the
portal); PREVIEW checks like SKIP_BAD_ROWS and writes nothing.
"""

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.services import Actor, audit_record
from serweb.bulk.rows import (
    EXTRA_VALUES,
    BadRows,
    ColumnCheck,
    ImportRejected,
    NumberedRows,
    RowError,
    bad_rows,
    cell,
    checked,
    count_records,
    csv_lines,
    header_problems,
    open_csv,
    parse_enabled,
)
from serweb.bulk.staging import Staging, staging
from serweb.db import CONFLICT_MESSAGE, lost_race

__all__ = [
    "EXTRA_VALUES",
    "BadRows",
    "ColumnCheck",
    "ImportRejected",
    "RowError",
    "Staging",
    "bad_rows",
    "cell",
    "checked",
    "count_records",
    "csv_lines",
    "header_problems",
    "parse_enabled",
]

OpenRows = Callable[[], AbstractContextManager[NumberedRows]]
Progress = Callable[[int], None]
Summary = TypeVar("Summary")

# Rows validated and loaded per round trip: large enough to amortise the round trip,
# small enough to keep memory flat whatever the size of the file.
CHUNK_ROWS = 5000
# Rows the preview shows of those it would create.
SAMPLE_ROWS = 20
# How often a write lost to a concurrent one is tried again without the rows it lost.
RACE_RETRIES = 3


class Mode(enum.Enum):
    ALL_OR_NOTHING = "all or nothing"
    SKIP_BAD_ROWS = "skip bad rows"
    PREVIEW = "preview"


@dataclass(frozen=True)
class ImportReport(Generic[Summary]):
    """What an import created (or, previewed, would create) and the rows it refused."""

    summary: Summary
    errors: list[RowError]
    # Previewed: the first rows to create, as the importer describes them.
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_created(self) -> int:
        """The summary's first count: one per row created."""
        return next(iter(asdict(self.summary).values()), 0)

    @property
    def refused_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})

    @property
    def refused_rows(self) -> list[tuple[int, list[str]]]:
        """(line, its problems) per row refused, by line."""
        rows: dict[int, list[str]] = {}
        for error in self.errors:
            rows.setdefault(error.line, []).append(error.message)
        return sorted(rows.items())


# --- one import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedTable:
    name: str
    # (column, SQL type) after the line number.
    columns: tuple[tuple[str, str], ...]
    # Rows numbered from this table's id sequence.
    ids_of: str | None = None

    @property
    def insert_columns(self) -> str:
        return ", ".join(["line", *(name for name, _type in self.columns)])


class BulkImport(Generic[Summary]):
    """One kind of import: its staging tables, how a row is checked and staged, which
    staged rows conflict, how they are written. One instance per run."""

    action: ClassVar[str]  # the audit entry's action
    staged: ClassVar[tuple[StagedTable, ...]]  # the first holds one row per row imported
    # Cells the bad rows handed back leave empty: secrets are never handed back.
    secret_columns: ClassVar[frozenset[str]] = frozenset()
    # Rows read twice: first by ``prepare``, then staged.
    reads_twice: ClassVar[bool] = False

    def __init__(self, tables: Staging) -> None:
        self.tables = tables
        for table in self.staged:
            definitions = ", ".join(f"{name} {kind}" for name, kind in table.columns)
            tables.create(table.name, definitions, ids_of=table.ids_of)

    @classmethod
    def header_problems(cls, columns: list[str]) -> list[str]:
        raise NotImplementedError

    def chunk_rows(self) -> int:
        return CHUNK_ROWS

    def prepare(self, rows: NumberedRows) -> None:
        """A first look at every row before any is checked."""

    def clean(self, row: Any) -> tuple[dict[str, list[tuple]], list[str]]:
        """The row's staged tuples by table (without the line), or what is wrong with it."""
        raise NotImplementedError

    def conflicts(self) -> list[RowError]:
        raise NotImplementedError

    def summary(self) -> Summary:
        raise NotImplementedError

    def sample(self, limit: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError


def _stage(job: BulkImport, rows: NumberedRows, progress: Progress | None) -> list[RowError]:
    errors: list[RowError] = []
    buffers: dict[str, list[tuple]] = {table.name: [] for table in job.staged}
    chunk, done = job.chunk_rows(), 0

    def flush() -> None:
        for table in job.staged:
            job.tables.load(table.name, table.insert_columns, buffers[table.name])
            buffers[table.name] = []
        if progress is not None:
            progress(done)

    for line, row in rows:
        staged, problems = job.clean(row)
        errors.extend(RowError(line, problem) for problem in problems)
        for name, tuples in staged.items():
            buffers[name].extend((line, *values) for values in tuples)
        done += 1
        if done % chunk == 0:
            flush()
    flush()
    return errors


def _refuse(errors: list[RowError]) -> None:
    if errors:
        raise ImportRejected(errors)


def _write_skipping_lost_rows(job: BulkImport, errors: list[RowError]) -> None:
    """Write; rows a concurrent writer took meanwhile are refused and the rest written."""
    for _attempt in range(RACE_RETRIES):
        try:
            with transaction.atomic():
                job.write()
            return
        except IntegrityError:
            lost = job.conflicts()
            if not lost:
                break
            job.tables.drop_lines(error.line for error in lost)
            errors.extend(lost)
    raise ValidationError(CONFLICT_MESSAGE)


def run_import(
    kind: type[BulkImport[Summary]],
    *,
    actor: Actor,
    open_rows: OpenRows,
    source: str,
    mode: Mode = Mode.ALL_OR_NOTHING,
    progress: Progress | None = None,
) -> ImportReport[Summary]:
    """Import the rows ``open_rows`` gives (each time it is called, for imports that read
    them twice), numbered by line. ALL_OR_NOTHING raises ImportRejected for any bad row."""
    with transaction.atomic():
        with staging() as tables:
            report = _run(
                kind(tables),
                actor=actor,
                open_rows=open_rows,
                source=source,
                mode=mode,
                progress=progress,
            )
        if mode is Mode.PREVIEW:
            transaction.set_rollback(True)
    return report


def _run(
    job: BulkImport[Summary],
    *,
    actor: Actor,
    open_rows: OpenRows,
    source: str,
    mode: Mode,
    progress: Progress | None,
) -> ImportReport[Summary]:
    if job.reads_twice:
        with open_rows() as rows:
            job.prepare(rows)
    with open_rows() as rows:
        errors = _stage(job, rows, progress)
    job.tables.analyze()
    conflicts = job.conflicts()
    errors += conflicts
    if mode is Mode.ALL_OR_NOTHING:
        _refuse(errors)
    job.tables.drop_lines(error.line for error in conflicts)
    if mode is Mode.PREVIEW:
        return ImportReport(job.summary(), _by_line(errors), job.sample(SAMPLE_ROWS))
    if job.tables.count(job.staged[0].name):
        if mode is Mode.ALL_OR_NOTHING:
            # A concurrent writer may commit a key of the file after the check: the unique
            # keys refuse the write, and the check, run again, finds the winner and names
            # it on its line, as a serial import is told.
            with lost_race(lambda: _refuse(job.conflicts())):
                job.write()
        else:
            _write_skipping_lost_rows(job, errors)
    summary = job.summary()
    refused = {"rows_refused": len({e.line for e in errors})} if errors else {}
    # Counts only: a file's hashes and passwords are secrets.
    audit_record(
        actor=actor,
        action=job.action,
        object_type="import",
        object_repr=source,
        after={"source": source, **asdict(summary), **refused},
    )
    return ImportReport(summary, _by_line(errors))


def counts_text(counts: Mapping[str, int]) -> str:
    """``3 domains (7 names, 2 attributes)``: the first count leads, the others follow."""
    parts = [f"{value} {name.replace('_', ' ')}" for name, value in counts.items()]
    rest = f" ({', '.join(parts[1:])})" if len(parts) > 1 else ""
    return f"{parts[0]}{rest}" if parts else "nothing"


def _by_line(errors: list[RowError]) -> list[RowError]:
    return sorted(errors, key=attrgetter("line"))


def rows_from(kind: type[BulkImport], rows: Iterable[Any]) -> OpenRows:
    """Rows given by a caller, numbered from 1 (kept, for an import that reads them twice)."""
    kept = list(rows) if kind.reads_twice else rows

    @contextmanager
    def opened() -> Iterator[NumberedRows]:
        yield enumerate(kept, start=1)

    return opened


def rows_of_file(kind: type[BulkImport], path: str | Path) -> OpenRows:
    return lambda: open_csv(path, header=kind.header_problems)


def import_file(
    kind: type[BulkImport[Summary]],
    *,
    actor: Actor,
    path: str | Path,
    source: str | None = None,
    mode: Mode = Mode.ALL_OR_NOTHING,
    progress: Progress | None = None,
) -> ImportReport[Summary]:
    """Import a CSV file; errors carry the file's line numbers."""
    return run_import(
        kind,
        actor=actor,
        open_rows=rows_of_file(kind, path),
        source=source or Path(path).name,
        mode=mode,
        progress=progress,
    )


def file_header_check(kind: type[BulkImport], path: str | Path) -> None:
    """Refuse a file whose header ``kind`` cannot import, as the import would."""
    with open_csv(path, header=kind.header_problems):
        pass
