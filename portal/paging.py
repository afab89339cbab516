"""Pages of a list without counting it: a page holds ``size`` rows and knows whether a
next one exists by reading one row more, so a page costs the same at any table size."""

from dataclasses import dataclass

from django.db.models import QuerySet

# Deeper than anybody pages by hand; keeps the offset far from the database's limits.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def page_number(raw: str | None) -> int:
    """The page asked for: 1 for anything that is not a page number."""
    if not raw or not (raw.isascii() and raw.isdigit()):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


def offset_page(rows: QuerySet, raw_number: str | None, size: int) -> Page:
    number = page_number(raw_number)
    start = (number - 1) * size
    found = list(rows[start : start + size + 1])
    return Page(object_list=found[:size], number=number, has_next=len(found) > size)
