from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    """Cursor pages stay correct while rows are added, at any depth of a large list."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"


class NewestFirstPagination(StableCursorPagination):
    ordering = "-id"
