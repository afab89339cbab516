"""Rows of a bulk import: cells, CSV files read with the line numbers of their records,
header checks, and the errors of rows by line; CSV files written line by line."""

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

NumberedRows = Iterable[tuple[int, Any]]

_TRUE = {"yes", "true", "1"}
_FALSE = {"no", "false", "0"}
# The key a CSV row gets for values beyond the header's columns.
EXTRA_VALUES = "(values beyond the header)"


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


class ImportRejected(ValidationError):
    """Nothing was written: ``errors`` lists every problem with its line number."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=attrgetter("line"))
        super().__init__(f"{len(self.errors)} problem(s); nothing was imported")

    # One ValidationError object per row would cost half a gigabyte for a million bad
    # rows, so the per-row messages are built when someone asks for them.
    @property
    def error_list(self) -> list[ValidationError]:
        return [ValidationError(f"line {e.line}: {e.message}") for e in self.errors]

    @error_list.setter
    def error_list(self, _value: list[ValidationError]) -> None:
        # ValidationError.__init__ stores [self]; the list always comes from ``errors``.
        pass


# --- reading rows -------------------------------------------------------------------------


def cell(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value)).strip()


def parse_enabled(text: str) -> bool:
    lowered = text.lower()
    if not lowered or lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"enabled: {text!r} is not one of yes, no, true, false, 1, 0")


def messages_of(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


def checked(problems: list[str], check: Callable[..., Any], *args: Any) -> Any:
    """check(*args), or None with its complaint added to ``problems``."""
    try:
        return check(*args)
    except ValidationError as exc:
        problems.append(messages_of(exc))
        return None


def header_problems(
    columns: list[str], *, required: Iterable[str], unknown: Callable[[Iterable[str]], list[str]]
) -> list[str]:
    problems = []
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        problems.append(f"column(s) given twice: {', '.join(duplicates)}")
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    problems.extend(unknown(columns))
    return problems


class ColumnCheck:
    """The unknown columns of a row, remembered per set of keys (rows share their keys)."""

    def __init__(self, unknown: Callable[[Iterable[str]], list[str]]) -> None:
        self._unknown = unknown
        self._seen: dict[tuple[str, ...], list[str]] = {}

    def problems(self, row: Mapping[str, Any]) -> list[str]:
        keys = tuple(row)
        if keys not in self._seen:
            self._seen[keys] = self._unknown(keys)
        return self._seen[keys]


def csv_records(stream) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) per record, skipping blank lines; quoted fields may span lines."""
    reader = csv.reader(stream, strict=True)
    end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise ImportRejected([RowError(end + 1, "the file is not UTF-8 text")]) from None
        except csv.Error as exc:
            raise ImportRejected([RowError(reader.line_num, f"bad CSV: {exc}")]) from None
        start, end = end + 1, reader.line_num
        if any(value.strip() for value in fields):
            yield start, fields


def _as_mappings(columns: list[str], records: Iterator) -> NumberedRows:
    width = len(columns)
    for line, fields in records:
        row = dict(zip(columns, fields, strict=False))
        if len(fields) > width:
            row[EXTRA_VALUES] = " ".join(fields[width:])
        yield line, row


@contextmanager
def csv_file(path: str | Path) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """The records of a UTF-8 CSV file, as (line, fields)."""
    # utf-8-sig: spreadsheets often start their UTF-8 exports with a byte order mark.
    with open(path, encoding="utf-8-sig", newline="") as stream:
        yield csv_records(stream)


def header_of(records: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    """The first record: the header's line and its column names, as written."""
    first = next(records, None)
    if first is None:
        raise ImportRejected([RowError(1, "the file is empty; a header row is required")])
    return first


def column_names(header: list[str]) -> list[str]:
    return [name.strip().lower() for name in header]


@contextmanager
def open_csv(
    path: str | Path, *, header: Callable[[list[str]], list[str]]
) -> Iterator[NumberedRows]:
    """The rows of a UTF-8 CSV file as (line, {column: value}); a bad header is refused
    (``header`` lists what is wrong with the columns)."""
    with csv_file(path) as records:
        line, names = header_of(records)
        columns = column_names(names)
        problems = header(columns)
        if problems:
            raise ImportRejected([RowError(line, problem) for problem in problems])
        yield _as_mappings(columns, records)


def count_records(path: str | Path) -> int:
    """The rows of a CSV file below its header (what a progress bar counts to)."""
    with csv_file(path) as records:
        return max(sum(1 for _ in records) - 1, 0)


class _Line:
    """A write-only buffer that keeps what csv.writer wrote last: one CSV line."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """A CSV file line by line (for a streamed download): the header, then the rows."""
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


# --- the bad rows, handed back to be fixed ------------------------------------------------


@dataclass(frozen=True)
class BadRows:
    header: list[str]
    # (line, the record's values, its problems)
    rows: list[tuple[int, list[str], list[str]]]

    def csv(self) -> Iterator[str]:
        """The original columns and an ``error`` column; values past the header's columns
        follow the error."""
        width = len(self.header)

        def lines() -> Iterator[list[str]]:
            for _line, values, problems in self.rows:
                padded = values[:width] + [""] * (width - len(values))
                yield [*padded, "; ".join(problems), *values[width:]]

        return csv_lines([*self.header, "error"], lines())


def bad_rows(
    path: str | Path, errors: Iterable[RowError], *, secret_columns: Iterable[str] = ()
) -> BadRows:
    """The refused records of a CSV file as they were written, the cells of
    ``secret_columns`` left empty."""
    problems: dict[int, list[str]] = {}
    for error in errors:
        problems.setdefault(error.line, []).append(error.message)
    with csv_file(path) as records:
        _line, header = header_of(records)
        columns = column_names(header)
        hidden = set(secret_columns)
        secret = {index for index, name in enumerate(columns) if name in hidden}
        rows = []
        for line, values in records:
            if line in problems:
                shown = ["" if i in secret else value for i, value in enumerate(values)]
                rows.append((line, shown, problems[line]))
    return BadRows(header=header, rows=rows)
