"""How the API's lists and deletes read their query parameters: through a FilterSet (a
value that is not one of the parameter's is a 400 naming it), whose ordering, if it has
one, the cursor pagination follows."""

from django_filters.rest_framework import DjangoFilterBackend

from serweb.filters import FilterSet, OrderingFilter


class FilterBackend(DjangoFilterBackend):
    filterset_base = FilterSet


class OrderingFilterSetBackend(FilterBackend):
    """For a view whose FilterSet orders the list too (an ``ordering`` OrderingFilter):
    the cursor pagination asks it for the ordering, as it would ask DRF's OrderingFilter."""

    def get_ordering(self, request, queryset, view) -> list[str] | None:
        filterset_class = self.get_filterset_class(view, queryset)
        ordering = filterset_class.base_filters.get("ordering") if filterset_class else None
        if not isinstance(ordering, OrderingFilter):
            return None
        return ordering.order_by(request.query_params.get("ordering"))
