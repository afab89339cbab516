from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    """Cursor pages stay correct while rows are added, at any depth of a large list.

    A page size or cursor that is not one (DRF quietly ignores the first and answers 404
    for the second, or a 500 for a cursor whose position does not fit the ordering's
    column) is refused with a 400 naming the parameter."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"give a number from 1 to {self.max_page_size}"]}
            )
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            valid = False
        else:
            valid = cursor is None or self._position_fits(cursor.position)
        if not valid:
            raise ValidationError({self.cursor_query_param: ["not a cursor this list gave"]})
        return cursor

    def _position_fits(self, position: str | None) -> bool:
        if position is None:
            return True
        if "\x00" in position:
            return False
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
            field.to_python(position)
        except (FieldDoesNotExist, DjangoValidationError, ValueError, TypeError):
            return False
        return True

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class NewestFirstPagination(StableCursorPagination):
    ordering = "-id"
