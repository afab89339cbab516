"""OpenAPI generation: every operation documents the API's error answers too, so a client
(and the schema fuzzing in the test suite) knows their shape."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


ERROR_CODES = ("400", "401", "403", "404", "429")


class SerwebAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ERROR_CODES
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ("413", "415")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ("409",)  # a concurrent change came first
        if self.method == "POST":
            codes += ("422",)
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code))
        return responses


class FilterSetParameters(DjangoFilterExtension):
    """A FilterSet's search and ordering parameters documented as DRF's SearchFilter and
    OrderingFilter document theirs (serweb/filters.py), the other filters as django-filter's."""

    target_class = "api.filters.FilterBackend"
    match_subclasses = True
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        documented = getattr(filter_field, "openapi_parameter", None)
        if documented is not None:
            return [dict(documented)]
        return super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
