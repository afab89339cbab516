"""The temporary tables of one import: what bulk imports, restoring a backup and adopting
a Kamailio load their rows into."""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from serweb.bulk.rows import ImportRejected, RowError


def _unstorable(value: Any) -> str | None:
    """Why the database cannot store this value, if it cannot."""
    if not isinstance(value, str):
        return None
    if "\x00" in value and connection.vendor == "postgresql":
        return "a value contains a NUL character, which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "a value is not valid Unicode text"
    return None


_COPY_LINE = re.compile(r"\bline (\d+)\b")


class Staging:
    """The temporary tables of one import.

    PostgreSQL loads them with COPY and numbers their rows from the target table's id
    sequence as they arrive, so child rows join their parent by line number; SQLite loads
    them with executemany and takes the ids back after inserting the parents.
    """

    def __init__(self, cursor) -> None:
        self.cursor = cursor
        self.numbers_rows = connection.vendor == "postgresql"
        self.tables: list[str] = []

    def create(self, name: str, columns: str = "", *, ids_of: str | None = None) -> None:
        id_column = ""
        if ids_of is not None:
            id_column = ", id bigint"
            if self.numbers_rows:
                self.cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [ids_of])
                (sequence,) = self.cursor.fetchone()
                id_column += f" NOT NULL DEFAULT nextval('{sequence}'::regclass)"
        on_commit = " ON COMMIT DROP" if self.numbers_rows else ""
        rest = f", {columns}" if columns else ""
        self.cursor.execute(f"DROP TABLE IF EXISTS {self._temporary(name)}")
        self.cursor.execute(
            f"CREATE TEMPORARY TABLE {name} (line integer NOT NULL{rest}{id_column}){on_commit}"
        )
        self.tables.append(name)

    def _temporary(self, name: str) -> str:
        # Qualified, so that a permanent table of the same name is never dropped.
        return f"pg_temp.{name}" if self.numbers_rows else f"temp.{name}"

    def load(self, name: str, columns: str, rows: list[tuple]) -> None:
        """Insert ``rows`` into ``name``, a staging table (rows start with their line) or
        any other. Database errors are Django's; a row of a staging table the database
        cannot store is refused on its line."""
        if not rows:
            return
        with connection.wrap_database_errors:
            try:
                self._load(name, columns, rows)
            except (connection.Database.DataError, UnicodeError) as exc:
                if name not in self.tables:
                    raise
                raise ImportRejected([self._refused_row(rows, exc)]) from None

    def _load(self, name: str, columns: str, rows: list[tuple]) -> None:
        if self.numbers_rows:
            with self.cursor.cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(rows[0]))
            self.cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({placeholders})", rows)

    @staticmethod
    def _refused_row(rows: list[tuple], exc: Exception) -> RowError:
        for row in rows:
            for value in row:
                reason = _unstorable(value)
                if reason:
                    return RowError(row[0], reason)
        # The server's complaint names the row of the COPY it refused.
        diag = getattr(exc, "diag", None)
        where = _COPY_LINE.search(getattr(diag, "context", None) or "")
        index = int(where.group(1)) - 1 if where else 0
        message = getattr(diag, "message_primary", None) or str(exc)
        return RowError(rows[min(index, len(rows) - 1)][0], f"the database refused it: {message}")

    def count(self, name: str) -> int:
        self.cursor.execute(f"SELECT count(*) FROM {name}")
        return self.cursor.fetchone()[0]

    def drop_lines(self, lines: Iterable[int]) -> None:
        """Forget the staged rows of these lines, in every table."""
        refused = sorted(set(lines))
        if not refused:
            return
        if "bulk_refused" not in self.tables:
            self.create("bulk_refused")
        self.cursor.execute("DELETE FROM bulk_refused")
        self.load("bulk_refused", "line", [(line,) for line in refused])
        for name in self.tables:
            if name != "bulk_refused":
                self.cursor.execute(
                    f"DELETE FROM {name} WHERE line IN (SELECT line FROM bulk_refused)"
                )

    def analyze(self) -> None:
        # Autovacuum never analyses temporary tables; without statistics the planner
        # guesses their size and may pick nested loops over a million rows.
        if self.numbers_rows:
            for name in self.tables:
                self.cursor.execute(f"ANALYZE {name}")

    def take_ids(self, name: str, table: str, keys: tuple[str, ...]) -> None:
        """After inserting the parents (SQLite): their ids, found by their unique key."""
        if self.numbers_rows:
            return
        match = " AND ".join(f"t.{key} = {name}.{key}" for key in keys)
        self.cursor.execute(f"UPDATE {name} SET id = (SELECT t.id FROM {table} t WHERE {match})")

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        self.cursor.execute(sql, params or [])
        return self.cursor.fetchall()

    def drop(self) -> None:
        for name in reversed(self.tables):
            self.cursor.execute(f"DROP TABLE IF EXISTS {self._temporary(name)}")
        self.tables.clear()


@contextmanager
def staging() -> Iterator[Staging]:
    with connection.cursor() as cursor:
        tables = Staging(cursor)
        yield tables
        tables.drop()
